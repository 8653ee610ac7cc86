// HTTP load generator: autocannon in a worker thread (see load-worker.mjs), one run at a time.
import { Worker } from 'node:worker_threads';

export class LoadGenerator {
  #worker = new Worker(new URL('./load-worker.mjs', import.meta.url));
  #pending;

  constructor() {
    this.#worker.on('message', (msg) => this.#settle(msg.error ? new Error(`autocannon: ${msg.error}`) : undefined, msg.result));
    this.#worker.on('error', (err) => this.#settle(err));
    this.#worker.on('exit', (code) => this.#settle(new Error(`load worker exited with code ${code}`)));
  }

  /**
   * `{ url, connections, seconds, method?, headers?, body?, rotateForwardedFor? }`: fires requests from
   * `connections` keep-alive connections for `seconds`. Resolves to { requestsPerSecond, ok, non2xx, errors,
   * timeouts, statusCodes, latencyMs: { p50, p99, max } }, counting only 2xx responses in the rate and latencies.
   */
  run(job) {
    if (this.#pending) return Promise.reject(new Error('LoadGenerator runs one job at a time'));
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#worker.postMessage(job);
    });
  }

  async close() {
    this.#worker.removeAllListeners('exit');
    await this.#worker.terminate();
  }

  #settle(err, result) {
    const p = this.#pending;
    this.#pending = undefined;
    if (!p) return;
    if (err) p.reject(err);
    else p.resolve(result);
  }
}
