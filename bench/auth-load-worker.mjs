// autocannon in a worker thread for the auth benchmarks: like lib/load-worker.mjs, plus a method, headers
// and a body, and optionally a distinct X-Forwarded-For address per request (so the 5/min per-IP `auth`
// rate limit, which the server applies through its trusted proxy 127.0.0.1, never refuses a login).
import { createHistogram } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import autocannon from 'autocannon';

// One counter for the worker's lifetime: an address is never used twice in a benchmark (16M of them).
let address = 0;
const nextAddress = () => {
  address = (address + 1) & 0xffffff;
  return `10.${address >> 16}.${(address >> 8) & 255}.${address & 255}`;
};

parentPort.on('message', (job) => {
  const latencyUs = createHistogram();
  let ok = 0;
  const url = new URL(job.url);
  const request = { method: job.method ?? 'GET', path: `${url.pathname}${url.search}`, headers: job.headers ?? {}, ...(job.body !== undefined ? { body: job.body } : {}) };
  if (job.rotateForwardedFor) {
    request.setupRequest = (req) => {
      req.headers = { ...req.headers, 'x-forwarded-for': nextAddress() };
      return req;
    };
  }
  const instance = autocannon({ url: url.origin, connections: job.connections, duration: job.seconds, requests: [request] }, (err, result) => {
    if (err) {
      parentPort.postMessage({ error: err.message ?? String(err) });
      return;
    }
    const pct = (p) => (ok === 0 ? 0 : latencyUs.percentile(p) / 1000);
    parentPort.postMessage({
      result: {
        requestsPerSecond: ok / result.duration,
        ok,
        seconds: result.duration,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        statusCodes: result.statusCodeStats,
        latencyMs: { p50: pct(50), p99: pct(99), max: ok === 0 ? 0 : latencyUs.max / 1000 },
      },
    });
  });
  instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
    if (statusCode < 200 || statusCode >= 300) return;
    ok++;
    latencyUs.record(Math.max(1, Math.round(responseTimeMs * 1000)));
  });
});
