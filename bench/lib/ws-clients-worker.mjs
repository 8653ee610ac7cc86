// A worker thread holding many WebSocket clients (so receiving does not share the event loop of the server
// under test). Frames of type `message` whose `message.text` is `bench <epoch ms>` are timed on arrival:
// latency = arrival - the send time in the text (both clocks are performance.timeOrigin + now()).
import { parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const now = () => performance.timeOrigin + performance.now();
let sockets = [];
let expecting;

function onFrame(data) {
  if (!expecting) return;
  const frame = JSON.parse(String(data));
  if (frame.type !== 'message' || typeof frame.message?.text !== 'string' || !frame.message.text.startsWith('bench ')) return;
  const e = expecting;
  e.latencies[e.received++] = now() - Number(frame.message.text.slice(6));
  if (e.received === e.count) {
    expecting = undefined;
    parentPort.postMessage({ type: 'done', latencies: e.latencies, lastAt: now() }, [e.latencies.buffer]);
  }
}

async function connect({ url, clients, waitForHello }) {
  const open = (c) =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, c.protocols ?? [], { headers: c.headers ?? {}, perMessageDeflate: false });
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
      ws.once('error', reject);
      ws.once(waitForHello ? 'message' : 'open', () => {
        ws.on('message', onFrame);
        resolve(ws);
      });
    });
  for (let i = 0; i < clients.length; i += 50) sockets.push(...(await Promise.all(clients.slice(i, i + 50).map(open))));
  parentPort.postMessage({ type: 'ready', clients: sockets.length });
}

parentPort.on('message', (msg) => {
  if (msg.cmd === 'connect') connect(msg).catch((err) => parentPort.postMessage({ type: 'error', message: err.message }));
  else if (msg.cmd === 'expect') {
    expecting = { count: msg.count, received: 0, latencies: new Float64Array(msg.count) };
    parentPort.postMessage({ type: 'expecting' });
  } else if (msg.cmd === 'close') {
    for (const ws of sockets) ws.terminate();
    sockets = [];
    parentPort.postMessage({ type: 'closed' });
  }
});
