// What Nova's HTTP stack costs per request, against a bare Fastify route returning the same JSON.
//
// Both servers run in this process on 127.0.0.1 (port 0); autocannon runs in a worker thread. Targets are
// measured alternately in rotating order (round 1: A B C, round 2: B C A, round 3: C A B, ...); req/s and
// latencies are medians over the rounds, ratios are medians of the per-round ratios (see below).
//
// Nova = createHttpApp (request/correlation ids, metrics by route, error mapper, OpenAPI) with the
// runner's logger level `info` writing synchronously to /dev/null (so the per-request log line of service
// routes is paid for, like pino's default stdout destination), default process metrics, and
// registerRateLimit like the runner. /health is not rate limited; /api/v1/bench/ping is registered with
// registerService, so it goes through the `api` preset, raised here to 1e9 per 1 s window so nothing is
// refused while every request still makes its Lua round trip to Redis.
import { closeSync, openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { BUILTIN_PRESETS, RateLimiter, createHttpApp, createLogger, createMetrics, registerRateLimit, registerService } from '@nova/platform';
import { formatRatio, median } from './lib/format.mjs';
import { LoadGenerator } from './lib/load.mjs';
import { withRedis } from './lib/redis.mjs';

export const description = "Nova's HTTP stack (+ rate limit hook) vs a bare Fastify route: req/s, p50/p99, ratios";

const CONNECTIONS = 10;
const SECONDS = 1;
const WARMUP_SECONDS = 2;
const ROUNDS = 15;
const LOG_LEVEL = 'info';
const BODY = JSON.stringify({ status: 'ok' });

// The baseline uses the very Fastify that @nova/platform runs on (not whatever else might resolve here).
const platformRequire = createRequire(import.meta.resolve('@nova/platform'));
const { default: Fastify } = await import(pathToFileURL(platformRequire.resolve('fastify')).href);

async function listen(app) {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address();
  return `http://127.0.0.1:${port}`;
}

async function startBare() {
  const app = Fastify({ logger: false });
  app.get('/health', async () => ({ status: 'ok' }));
  return { app, url: await listen(app), close: () => app.close() };
}

async function startNova(redis) {
  const devNull = openSync('/dev/null', 'w');
  const logger = createLogger({ level: LOG_LEVEL, name: 'bench', destination: { write: (line) => void writeSync(devNull, line) } });
  const metrics = createMetrics();
  const presets = { ...BUILTIN_PRESETS, api: { ...BUILTIN_PRESETS.api, limit: 1_000_000_000, windowMs: 1_000 } };
  const limiter = new RateLimiter({ redis, metrics, logger, presets });
  const app = await createHttpApp({ logger, metrics, trustedProxies: [], readiness: new Map() });
  registerRateLimit(app, limiter);
  await registerService(app, 'bench', (s) => {
    s.get('/api/v1/bench/ping', async () => ({ status: 'ok' }));
  });
  const url = await listen(app);
  const close = async () => {
    await app.close();
    closeSync(devNull);
  };
  return { app, url, metrics, close };
}

/** One request to each target before timing it: right body, and the limiter really answered. */
async function check(target) {
  const res = await globalThis.fetch(target.url);
  const body = await res.text();
  if (res.status !== 200 || body !== BODY) throw new Error(`${target.case}: expected 200 ${BODY}, got ${res.status} ${body}`);
  if (target.rateLimited && !res.headers.get('ratelimit-limit')) {
    throw new Error(`${target.case}: no RateLimit-Limit header, so the limiter did not decide (Redis unreachable?)`);
  }
}

async function limiterOutcomes(metrics) {
  const out = {};
  for (const v of (await metrics.rateLimitRequests.get()).values) out[v.labels.outcome] = (out[v.labels.outcome] ?? 0) + v.value;
  return out;
}

export async function run({ log }) {
  return withRedis(
    'http-stack',
    async (redis) => {
      const cleanups = [];
      try {
        const load = new LoadGenerator();
        cleanups.push(() => load.close());
        const bare = await startBare();
        cleanups.push(bare.close);
        const nova = await startNova(redis);
        cleanups.push(nova.close);

        const targets = [
          { id: 'bare-health', case: 'bare GET /health', url: `${bare.url}/health` },
          { id: 'nova-health', case: 'nova GET /health', url: `${nova.url}/health` },
          { id: 'nova-ping', case: 'nova GET /api/v1/bench/ping (rate limited)', url: `${nova.url}/api/v1/bench/ping`, rateLimited: true },
        ].map((t) => ({ ...t, samples: [] }));
        for (const t of targets) await check(t);

        log(`warm-up: ${WARMUP_SECONDS} s per target`);
        for (const t of targets) {
          await load.run({ url: t.url, connections: CONNECTIONS, seconds: WARMUP_SECONDS });
        }
        log(`${ROUNDS} rounds x ${targets.length} targets x ${SECONDS} s, ${CONNECTIONS} connections`);
        for (let round = 0; round < ROUNDS; round++) {
          for (let i = 0; i < targets.length; i++) {
            const t = targets[(round + i) % targets.length];
            t.samples.push(await load.run({ url: t.url, connections: CONNECTIONS, seconds: SECONDS }));
          }
          if ((round + 1) % 5 === 0) log(`round ${round + 1}/${ROUNDS} done`);
        }

        for (const t of targets) {
          t.rps = median(t.samples.map((s) => s.requestsPerSecond));
          t.p50 = median(t.samples.map((s) => s.latencyMs.p50));
          t.p99 = median(t.samples.map((s) => s.latencyMs.p99));
        }
        // Ratios are paired: a/b within each round (samples taken seconds apart), then the median over
        // rounds. Noise on a shared box comes in episodes of several seconds that slow everything, so the
        // paired ratio stays put while a ratio of medians can flip when the two medians fall in different
        // episodes. Both are in the JSON.
        const ratio = (a, b) => {
          const per = (f) => median(a.samples.map((s, i) => f(s) / f(b.samples[i])));
          return {
            rps: per((s) => s.requestsPerSecond),
            p50: per((s) => s.latencyMs.p50),
            p99: per((s) => s.latencyMs.p99),
            rpsRatioOfMedians: a.rps / b.rps,
          };
        };
        const [bareHealth, novaHealth, novaPing] = targets;
        const ratios = {
          'nova-health': { vsBare: ratio(novaHealth, bareHealth) },
          'nova-ping': { vsBare: ratio(novaPing, bareHealth), vsNovaHealth: ratio(novaPing, novaHealth) },
        };
        const describe = (r) => `ratio ${formatRatio(r.rps)} (p50 x${formatRatio(r.p50)}, p99 x${formatRatio(r.p99)})`;
        const limiterDecisions = await limiterOutcomes(nova.metrics);

        const rows = targets.map((t) => {
          const notes = [];
          if (t.id === 'nova-health') notes.push(describe(ratios[t.id].vsBare));
          if (t.id === 'nova-ping') {
            notes.push(`${describe(ratios[t.id].vsBare)} vs bare; ${formatRatio(ratios[t.id].vsNovaHealth.rps)} vs nova /health`);
            const failedOpen = limiterDecisions.error_open ?? 0;
            if (failedOpen > 0) notes.push(`${failedOpen} limiter decisions failed open`);
          }
          const bad = t.samples.reduce((n, s) => n + s.non2xx + s.errors + s.timeouts, 0);
          if (bad > 0) notes.push(`${bad} non-2xx/errors/timeouts`);
          return {
            case: t.case,
            rate: Math.round(t.rps),
            unit: 'req/s',
            p50Ms: round3(t.p50),
            p99Ms: round3(t.p99),
            note: notes.join('; '),
            url: t.url.replace(/^http:\/\/[^/]+/, ''),
            ratios: ratios[t.id] && roundDeep(ratios[t.id]),
            samples: t.samples.map((s) => ({ rps: Math.round(s.requestsPerSecond), p50Ms: round3(s.latencyMs.p50), p99Ms: round3(s.latencyMs.p99), non2xx: s.non2xx, errors: s.errors, timeouts: s.timeouts })),
          };
        });
        return {
          config: { connections: CONNECTIONS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, rounds: ROUNDS, novaLogLevel: `${LOG_LEVEL} -> /dev/null`, apiPreset: { limit: 1e9, windowMs: 1000 } },
          limiterDecisions,
          rows,
        };
      } finally {
        for (const fn of cleanups.reverse()) await fn();
      }
    },
    { log },
  );
}

function round3(n) {
  return Math.round(n * 1000) / 1000;
}

function roundDeep(o) {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? round3(v) : roundDeep(v)]));
}
