import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { RateLimitIdentity, RateLimiter } from './limiter.js';

export interface RateLimiterBenchOptions {
  durationMs: number;
  /** Decisions in flight at once. */
  concurrency: number;
  /** Preset to exercise (default `api`). */
  preset?: string;
  /** Distinct callers the decisions are spread over (default: one per concurrent worker). */
  identities?: number;
}

export interface RateLimiterBenchResult {
  decisionsPerSecond: number;
  decisions: number;
  allowed: number;
  rejected: number;
  /** Decisions Redis did not make (error or timeout): they fell back to the fail mode. */
  errors: number;
  elapsedMs: number;
  latencyMs: { p50: number; p99: number; max: number };
}

/**
 * Drives `limiter.check` from `concurrency` loops for `durationMs` and reports decisions per second and
 * their latency. Callers are fresh ids and addresses from the benchmarking range 198.18.0.0/15, and their
 * keys are deleted before and after, so a run neither sees nor leaves state.
 */
export async function benchRateLimiter(limiter: RateLimiter, opts: RateLimiterBenchOptions): Promise<RateLimiterBenchResult> {
  const preset = opts.preset ?? 'api';
  limiter.preset(preset);
  if (!(opts.durationMs > 0)) throw new Error('durationMs must be > 0');
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new Error('concurrency must be an integer >= 1');
  const count = opts.identities ?? opts.concurrency;
  if (!Number.isInteger(count) || count < 1 || count > 131_072) throw new Error('identities must be an integer in 1-131072');

  const run = randomBytes(4).toString('hex');
  const callers: RateLimitIdentity[] = Array.from({ length: count }, (_, i) => ({
    userId: `bench-${run}-${i}`,
    ip: `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
  }));
  const resetAll = () => Promise.all(callers.map((c) => limiter.reset(preset, c).catch(() => undefined)));
  await resetAll();

  const latencies: number[] = [];
  let allowed = 0;
  let rejected = 0;
  let errors = 0;
  let next = 0;
  const start = performance.now();
  const end = start + opts.durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const caller = callers[next++ % count]!;
      const t0 = performance.now();
      const d = await limiter.check(preset, caller);
      latencies.push(performance.now() - t0);
      if (d.outcome === 'allowed') allowed++;
      else if (d.outcome === 'rejected') rejected++;
      else errors++;
    }
  };
  let elapsedMs: number;
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
    elapsedMs = performance.now() - start;
  } finally {
    await resetAll();
  }

  latencies.sort((a, b) => a - b);
  const at = (q: number) => (latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!);
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    decisionsPerSecond: Math.round((latencies.length / elapsedMs) * 1000),
    decisions: latencies.length,
    allowed,
    rejected,
    errors,
    elapsedMs: Math.round(elapsedMs),
    latencyMs: { p50: round(at(0.5)), p99: round(at(0.99)), max: round(at(1)) },
  };
}
