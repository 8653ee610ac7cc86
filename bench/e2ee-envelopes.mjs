// Envelope send → deliver: a device POSTs one 1 KiB ciphertext envelope to an e2ee direct conversation
// (device-set check, queue insert, commit), the recipient device's WebSocket gets the `envelope` frame
// (Redis fan-out, filtered by session). 90 sends paced at 30/s, each acknowledged over the socket.
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { now, percentile, startE2ee } from './e2ee-support.mjs';
import { round3 } from './auth-support.mjs';

export const description = 'E2EE envelope send (HTTP) → delivery on the recipient device’s WebSocket: p50/p99 latency';

// Under the `api` rate limit of the one sender (100 requests per minute, three of them used by setup).
const SENDS = 90;
const PER_SECOND = 30;

export async function run({ log }) {
  const e = await startE2ee({ log, users: 2 });
  try {
    const [alice, bob] = [await e.device(e.ids[0], 0), await e.device(e.ids[1], 0)];
    const conv = await e.api('POST', '/api/v1/conversations', alice.token, { type: 'direct', user_id: bob.userId, mode: 'e2ee' });
    if (conv.status !== 201) throw new Error(`conversation: HTTP ${conv.status}`);
    const ws = new WebSocket(`${e.url.replace('http', 'ws')}/ws`, ['nova.v1', `bearer.${bob.token}`]);
    const sentAt = new Map();
    const latencies = [];
    let allDone;
    const done = new Promise((r) => (allDone = r));
    await new Promise((resolve, reject) => {
      ws.on('message', (data) => {
        const f = JSON.parse(String(data));
        if (f.type === 'hello') resolve();
        if (f.type === 'envelope') {
          const tag = Buffer.from(f.envelope.content, 'base64').subarray(0, 8).toString('hex');
          const at = sentAt.get(tag);
          if (at !== undefined) latencies.push(now() - at);
          ws.send(JSON.stringify({ type: 'envelope_ack', ids: [f.envelope.id] }));
          if (latencies.length === SENDS) allDone();
        }
      });
      ws.on('error', reject);
    });
    log('recipient connected; sending');
    const start = now();
    const inflight = [];
    for (let i = 0; i < SENDS; i++) {
      const wait = start + (i * 1000) / PER_SECOND - now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const content = randomBytes(1024);
      sentAt.set(content.subarray(0, 8).toString('hex'), now());
      inflight.push(
        e.api('POST', `/api/v1/conversations/${conv.body.id}/envelopes`, alice.token, { envelopes: [{ user_id: bob.userId, device_id: 1, registration_id: bob.registrationId, type: 2, content: content.toString('base64') }] }).then((r) => {
          if (r.status !== 201) throw new Error(`send: HTTP ${r.status} ${JSON.stringify(r.body)}`);
        }),
      );
    }
    await Promise.all(inflight);
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${latencies.length} of ${SENDS} delivered`)), 30_000))]);
    ws.close();
    const sorted = Float64Array.from(latencies).sort();
    const result = { p50: round3(percentile(sorted, 50)), p99: round3(percentile(sorted, 99)), deliveries: latencies.length };
    return { rows: [{ case: `envelope send→deliver (${SENDS} × 1 KiB at ${PER_SECOND}/s)`, rate: PER_SECOND, unit: 'envelopes/s offered', p50Ms: result.p50, p99Ms: result.p99, note: 'HTTP send to WebSocket frame on the recipient device' }], ...result };
  } finally {
    await e.stop();
  }
}
