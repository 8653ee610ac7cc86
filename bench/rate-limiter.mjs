// Decisions per second of the Redis sliding-window limiter (one Lua round trip each) and their latency,
// through `benchRateLimiter` from @nova/platform, at 1 and 16 decisions in flight.
import { RateLimiter, benchRateLimiter, createLogger, createMetrics } from '@nova/platform';
import { withRedis } from './lib/redis.mjs';

export const description = 'Redis sliding-window rate limiter: decisions/s and latency at concurrency 1 and 16';

const SECONDS = 4;
const CONCURRENCY = [1, 16];
// The real `api` preset (100 per 60 s) over enough callers that every decision is admitted and each key
// stays at production size (a few dozen entries), instead of one hot key being refused after 100 calls.
const PRESET = 'api';
const IDENTITIES = 10_000;

export async function run({ log }) {
  return withRedis(
    'rate-limiter',
    async (redis) => {
      const limiter = new RateLimiter({ redis, metrics: createMetrics({ defaultMetrics: false }), logger: createLogger({ level: 'silent' }) });
      // Loads the Lua script into Redis and warms the JIT; not reported.
      await benchRateLimiter(limiter, { durationMs: 500, concurrency: 16, preset: PRESET, identities: IDENTITIES });

      const rows = [];
      for (const concurrency of CONCURRENCY) {
        log(`c=${concurrency} for ${SECONDS} s`);
        const r = await benchRateLimiter(limiter, { durationMs: SECONDS * 1000, concurrency, preset: PRESET, identities: IDENTITIES });
        const notes = [];
        if (r.rejected > 0) notes.push(`${r.rejected} rejected`);
        if (r.errors > 0) notes.push(`${r.errors} Redis errors/timeouts (fail mode decided)`);
        rows.push({
          case: `c=${concurrency}`,
          rate: r.decisionsPerSecond,
          unit: 'decisions/s',
          p50Ms: r.latencyMs.p50,
          p99Ms: r.latencyMs.p99,
          note: notes.join(', '),
          concurrency,
          decisions: r.decisions,
          allowed: r.allowed,
          rejected: r.rejected,
          errors: r.errors,
          elapsedMs: r.elapsedMs,
          maxMs: r.latencyMs.max,
        });
      }
      return { config: { seconds: SECONDS, preset: PRESET, identities: IDENTITIES }, rows };
    },
    { log },
  );
}
