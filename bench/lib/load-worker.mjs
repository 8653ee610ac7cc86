// Runs autocannon in a worker thread, so the load generator has its own event loop (and core) instead of
// competing with the in-process server it measures. Latency is recorded here from every 2xx response in
// microseconds: autocannon's own histogram has whole-millisecond resolution, too coarse for sub-ms routes.
// A job may set a method, headers and a body, and a distinct X-Forwarded-For address per request (so a
// per-IP rate limit applied through the trusted proxy 127.0.0.1 never refuses the load).
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
