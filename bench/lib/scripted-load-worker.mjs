// autocannon in a worker thread (like load-worker.mjs), for benchmarks whose requests differ
// from one another: a job carries `scripts`, each a short list of requests sent one after the other on one
// connection (a follow then its unfollow). A connection takes the next script from a queue shared by all
// connections (round robin), sends its steps in order (one request in flight per connection, so a step
// never overtakes the previous one), then takes the next script. Every request gets its own
// X-Forwarded-For address. Latencies (µs, 2xx only) are kept overall and per step.
import { createHistogram } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import autocannon from 'autocannon';

let address = 0;
const nextAddress = () => {
  address = (address + 1) & 0xffffff;
  return `10.${address >> 16}.${(address >> 8) & 255}.${address & 255}`;
};

// The queue position survives jobs, so a later run continues where the previous stopped (a warm-up does
// not replay the same scripts as the measurement).
let position = 0;

parentPort.on('message', (job) => {
  const { scripts } = job;
  const steps = scripts[0].length;
  if (scripts.some((s) => s.length !== steps)) {
    parentPort.postMessage({ error: 'every script must have the same number of steps' });
    return;
  }
  const overall = createHistogram();
  const perStep = Array.from({ length: steps }, () => createHistogram());
  const sent = new WeakMap();
  let ok = 0;
  const requests = Array.from({ length: steps }, (_, step) => ({
    method: scripts[0][step].method,
    path: scripts[0][step].path,
    setupRequest: (req, context) => {
      if (step === 0) context.script = scripts[position++ % scripts.length];
      const r = context.script[step];
      return { ...req, method: r.method, path: r.path, headers: { ...r.headers, 'x-forwarded-for': nextAddress() }, ...(r.body !== undefined ? { body: r.body } : {}) };
    },
  }));
  const url = new URL(job.url);
  // `amount` (a number of requests) instead of `seconds` sends every script once, for instance.
  const limit = job.amount !== undefined ? { amount: job.amount } : { duration: job.seconds };
  const instance = autocannon({ url: url.origin, connections: job.connections, ...limit, requests }, (err, result) => {
    if (err) {
      parentPort.postMessage({ error: err.message ?? String(err) });
      return;
    }
    const pct = (h, p) => (h.count === 0 ? 0 : h.percentile(p) / 1000);
    parentPort.postMessage({
      result: {
        requestsPerSecond: ok / result.duration,
        ok,
        seconds: result.duration,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        statusCodes: result.statusCodeStats,
        latencyMs: { p50: pct(overall, 50), p99: pct(overall, 99), max: overall.count === 0 ? 0 : overall.max / 1000 },
        steps: perStep.map((h) => ({ count: h.count, p50: pct(h, 50), p99: pct(h, 99) })),
      },
    });
  });
  instance.on('response', (client, statusCode, _bytes, responseTimeMs) => {
    // One request in flight per connection: its n-th response answers its n-th request.
    const n = sent.get(client) ?? 0;
    sent.set(client, n + 1);
    if (statusCode < 200 || statusCode >= 300) return;
    ok++;
    const us = Math.max(1, Math.round(responseTimeMs * 1000));
    overall.record(us);
    perStep[n % steps].record(us);
  });
});
