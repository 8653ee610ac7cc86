// Messages sent over HTTP (POST /api/v1/conversations/:id/messages) to a group of 1,001 members, delivered
// over WebSocket to 1,000 loopback clients (held in a worker thread), next to a bare `ws` server
// broadcasting the same frames to 1,000 clients of the same worker. Two phases per target:
// - throughput: 400 messages as fast as the target takes them (Nova: 8 concurrent HTTP senders; bare: a
//   broadcast loop yielding to the event loop between messages); messages/s = messages / (last delivery -
//   first send), and deliveries/s;
// - latency: 100 messages paced at 20/s, send→deliver per (message, client), p50/p99.
// Ratios are nova/bare. Each message has its own sender (the `api` rate limit is per user), every
// request its own X-Forwarded-For (TRUSTED_PROXIES=127.0.0.1).
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { WebSocketServer } from 'ws';
import { newId, runServices } from '@nova/platform';
import { createTestEnv, TestTokenIssuer } from '@nova/testing';
import { messagingService } from '@nova/messaging';
import { userService } from '@nova/user';
import { devNullLogger, round3 } from './auth-support.mjs';
import { formatRatio } from './lib/format.mjs';
import { ip } from './content-support.mjs';

export const description = 'HTTP send → WebSocket delivery to 1,000 loopback clients of one group: messages/s and send→deliver p50/p99 vs a bare ws broadcast';

const CLIENTS = 1_000;
const BURST = 400;
const PACED = 100;
const PACED_PER_SECOND = 20;
const SENDERS = 8;

const now = () => performance.timeOrigin + performance.now();

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function clientsWorker() {
  const worker = new Worker(new URL('./lib/ws-clients-worker.mjs', import.meta.url));
  const waiters = [];
  worker.on('message', (m) => {
    const i = waiters.findIndex((w) => w.type === m.type || m.type === 'error');
    if (i >= 0) {
      const [w] = waiters.splice(i, 1);
      if (m.type === 'error') w.reject(new Error(m.message));
      else w.resolve(m);
    }
  });
  const ask = (cmd, type, extra = {}) =>
    new Promise((resolve, reject) => {
      waiters.push({ type, resolve, reject });
      worker.postMessage({ cmd, ...extra });
    });
  return {
    connect: (url, clients, waitForHello) => ask('connect', 'ready', { url, clients, waitForHello }),
    /** Resolves once `count` timed frames arrived (call before sending). */
    async expect(count) {
      const done = new Promise((resolve, reject) => waiters.push({ type: 'done', resolve, reject }));
      await ask('expect', 'expecting', { count });
      return done;
    },
    close: () => ask('close', 'closed'),
    terminate: () => worker.terminate(),
  };
}

/** Runs `sendOne(i)` for i in 0..n-1, `concurrency` at a time, or paced at `perSecond`. */
async function drive(n, sendOne, { concurrency, perSecond }) {
  if (perSecond) {
    const start = now();
    const inflight = [];
    for (let i = 0; i < n; i++) {
      const due = start + (i * 1000) / perSecond;
      const wait = due - now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      inflight.push(sendOne(i));
    }
    await Promise.all(inflight);
    return;
  }
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) await sendOne(next++);
  }));
}

function summarise(latencies, firstSend, lastAt, messages) {
  const sorted = Float64Array.from(latencies).sort();
  const seconds = (lastAt - firstSend) / 1000;
  return { messagesPerSecond: messages / seconds, deliveriesPerSecond: sorted.length / seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99), deliveries: sorted.length };
}

async function phase(clients, { messages, drive: how, sendOne }) {
  const done = clients.expect(messages * CLIENTS);
  const firstSend = now();
  await drive(messages, sendOne, how);
  const { latencies, lastAt } = await done;
  return summarise(latencies, firstSend, lastAt, messages);
}

async function runNova({ log, clients }) {
  const env = await createTestEnv();
  const issuer = await TestTokenIssuer.start({ issuer: 'nova-auth', audience: 'nova' });
  const sink = devNullLogger('info', 'nova');
  let platform;
  try {
    platform = await runServices({
      services: [messagingService, userService],
      env: env.env({ AUTH_JWKS_URL: issuer.jwksUrl, GRPC_ADDR_AUTH: '127.0.0.1:9', TRUSTED_PROXIES: '127.0.0.1', OUTBOX_POLL_INTERVAL_MS: '200', MESSAGING_MAX_GROUP_MEMBERS: String(CLIENTS + 1), MESSAGING_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64') }),
      logger: sink.logger,
    });
    const url = `http://127.0.0.1:${platform.httpPort}`;
    const ids = Array.from({ length: CLIENTS + 1 }, () => newId());
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
    await pool.query(`INSERT INTO users.profiles (id, username, username_lower) SELECT id, 'm' || n, 'm' || n FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n)`, [ids]);
    await pool.end();
    log(`seeded ${ids.length} profiles; minting tokens`);
    const tokens = [];
    for (const id of ids) tokens.push(await issuer.sign({ sub: id }));
    const [owner, ...members] = ids;
    const memberTokens = tokens.slice(1);
    const created = await fetch(`${url}/api/v1/conversations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens[0]}`, 'content-type': 'application/json', 'x-forwarded-for': ip(1) },
      body: JSON.stringify({ type: 'group', name: 'bench', member_ids: members }),
    });
    if (created.status !== 201) throw new Error(`group creation: HTTP ${created.status} ${await created.text()}`);
    const conv = (await created.json()).id;
    log(`group ${conv} of ${ids.length} members (owner ${owner}); connecting ${CLIENTS} WebSocket clients`);
    await clients.connect(`ws://127.0.0.1:${platform.httpPort}/ws`, memberTokens.map((t) => ({ protocols: ['nova.v1', `bearer.${t}`] })), true);

    let sent = 0;
    const sendOne = async () => {
      const i = sent++;
      const res = await fetch(`${url}/api/v1/conversations/${conv}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${memberTokens[i % memberTokens.length]}`, 'content-type': 'application/json', 'x-forwarded-for': ip(1000 + i) },
        body: JSON.stringify({ text: `bench ${now()}` }),
      });
      if (res.status !== 201) throw new Error(`send ${i}: HTTP ${res.status} ${await res.text()}`);
    };
    log(`throughput: ${BURST} messages, ${SENDERS} concurrent senders`);
    const burst = await phase(clients, { messages: BURST, drive: { concurrency: SENDERS }, sendOne });
    log(`latency: ${PACED} messages at ${PACED_PER_SECOND}/s`);
    const paced = await phase(clients, { messages: PACED, drive: { perSecond: PACED_PER_SECOND }, sendOne });
    const stored = await fetch(`${url}/api/v1/conversations/${conv}`, { headers: { authorization: `Bearer ${tokens[0]}`, 'x-forwarded-for': ip(2) } }).then((r) => r.json());
    if (stored.last_seq !== BURST + PACED) throw new Error(`expected ${BURST + PACED} messages, the conversation has ${stored.last_seq}: ${JSON.stringify(stored).slice(0, 300)}`);
    await clients.close();
    return { burst, paced };
  } finally {
    await platform?.stop();
    await issuer.close();
    await env.cleanup();
    sink.close();
  }
}

async function runBare({ log, clients }) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  try {
    log(`bare ws: connecting ${CLIENTS} clients`);
    await clients.connect(`ws://127.0.0.1:${wss.address().port}`, Array.from({ length: CLIENTS }, () => ({})), false);
    const conv = newId();
    let seq = 0;
    // The same frame Nova sends (same fields and sizes), serialised once per message and sent to each socket.
    const sendOne = async () => {
      seq++;
      const frame = JSON.stringify({
        type: 'message',
        conversation_id: conv,
        message: { id: newId(), conversation_id: conv, seq, kind: 'user', sender_id: newId(), sender_deleted: false, system_sender: null, text: `bench ${now()}`, media_ids: [], client_message_id: null, reply_to_seq: null, reactions: [], created_at: new Date().toISOString(), edited_at: null, recalled: false },
      });
      for (const ws of wss.clients) ws.send(frame);
      await new Promise((r) => setImmediate(r));
    };
    log(`throughput: ${BURST} broadcasts`);
    const burst = await phase(clients, { messages: BURST, drive: { concurrency: 1 }, sendOne });
    log(`latency: ${PACED} broadcasts at ${PACED_PER_SECOND}/s`);
    const paced = await phase(clients, { messages: PACED, drive: { perSecond: PACED_PER_SECOND }, sendOne });
    await clients.close();
    return { burst, paced };
  } finally {
    await new Promise((r) => wss.close(r));
  }
}

export async function run({ log }) {
  const clients = clientsWorker();
  try {
    const nova = await runNova({ log, clients });
    const bare = await runBare({ log, clients });
    const r = (a, b) => a / b;
    const ratios = {
      messagesPerSecond: round3(r(nova.burst.messagesPerSecond, bare.burst.messagesPerSecond)),
      p50: round3(r(nova.paced.p50, bare.paced.p50)),
      p99: round3(r(nova.paced.p99, bare.paced.p99)),
    };
    const row = (name, x, note) => [
      { case: `${name} throughput (${BURST} msgs × ${CLIENTS} clients)`, rate: Math.round(x.burst.messagesPerSecond), unit: 'msgs/s', p50Ms: round3(x.burst.p50), p99Ms: round3(x.burst.p99), note: `${Math.round(x.burst.deliveriesPerSecond)} deliveries/s${note ? `; ${note}` : ''}` },
      { case: `${name} latency (${PACED} msgs at ${PACED_PER_SECOND}/s)`, rate: PACED_PER_SECOND, unit: 'msgs/s offered', p50Ms: round3(x.paced.p50), p99Ms: round3(x.paced.p99), note: `send→deliver over ${x.paced.deliveries} deliveries` },
    ];
    return {
      rows: [
        ...row('nova', nova, `ratio ${formatRatio(ratios.messagesPerSecond)} of bare msgs/s; paced p50 x${formatRatio(ratios.p50)}, p99 x${formatRatio(ratios.p99)} of bare`),
        ...row('bare ws', bare),
      ],
      ratios,
      nova,
      bare,
    };
  } finally {
    await clients.terminate();
  }
}
