// What token verification costs per request: the same route, unprotected and protected
// (`config: { auth: 'required' }`), in one in-process app built like the runner builds its HTTP server
// (createHttpApp + registerAuth, logger `info` to /dev/null), with a platform TokenVerifier pointed at the
// JWKS of an auth service running in this process (see auth-support.mjs) and a real access token from it.
//
// Targets, measured alternately (rotating order per round, like http-stack):
// - open:      GET /bench/open, no auth mode (the auth hook runs and returns at once);
// - protected: GET /bench/protected, the common case: the same token again, remembered by the verifier
//              (expiry and revocation still checked, no RSA);
// - rsa:       the same route on a second app whose verifier remembers nothing (verifiedCacheSize 0), so
//              every request pays the RS256 (RSA-4096) signature check: a client presenting a new token
//              each time, the worst case.
// Ratios are medians of per-round ratios; the per-request cost is 1/rps(protected) − 1/rps(open) of
// the server's event loop (saturated by the connections), in microseconds.
import { LoadGenerator } from './lib/load.mjs';
import { formatRatio, median } from './lib/format.mjs';
import { createHttpApp, createMetrics, registerAuth, TokenVerifier } from '@nova/platform';
import { badResponses, devNullLogger, pairedRatio, round3, startAuth } from './auth-support.mjs';

export const description = 'the same route unprotected vs `auth: required` (TokenVerifier on the auth JWKS): req/s, p50/p99, ratio, µs per request';

const CONNECTIONS = 10;
const SECONDS = 1;
const WARMUP_SECONDS = 2;
const ROUNDS = 10;

async function benchApp(auth, { verifiedCacheSize }) {
  const sink = devNullLogger('info', 'bench');
  const metrics = createMetrics();
  const verifier = new TokenVerifier({
    jwksUrl: `${auth.url}/.well-known/jwks.json`,
    issuer: auth.config.AUTH_ISSUER,
    audience: auth.config.AUTH_AUDIENCE,
    redis: auth.redis,
    logger: sink.logger,
    metrics,
    ...(verifiedCacheSize !== undefined ? { verifiedCacheSize } : {}),
  });
  await verifier.start();
  const app = await createHttpApp({ logger: sink.logger, metrics, trustedProxies: [], readiness: new Map() });
  registerAuth(app, verifier);
  app.get('/bench/open', async () => ({ status: 'ok' }));
  app.get('/bench/protected', { config: { auth: 'required' } }, async (req) => ({ status: req.identity ? 'ok' : 'anonymous' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: `http://127.0.0.1:${app.server.address().port}`,
    async close() {
      await app.close();
      await verifier.stop();
      sink.close();
    },
  };
}

async function check(target) {
  const res = await fetch(target.url, { headers: target.headers });
  const body = await res.text();
  if (res.status !== 200 || body !== '{"status":"ok"}') throw new Error(`${target.case}: expected 200 {"status":"ok"}, got ${res.status} ${body}`);
  if (target.protected) {
    const refused = await fetch(target.url);
    if (refused.status !== 401) throw new Error(`${target.case}: a request without a token got ${refused.status}, not 401`);
  }
}

export async function run({ log }) {
  const auth = await startAuth({ log });
  const cleanups = [() => auth.stop()];
  try {
    const { tokens } = await auth.register();
    const withToken = { authorization: `Bearer ${tokens.access_token}` };
    const load = new LoadGenerator();
    cleanups.push(() => load.close());
    const cached = await benchApp(auth, {});
    cleanups.push(() => cached.close());
    const uncached = await benchApp(auth, { verifiedCacheSize: 0 });
    cleanups.push(() => uncached.close());

    const targets = [
      { id: 'open', case: 'GET /bench/open (no auth)', url: `${cached.url}/bench/open`, headers: withToken },
      { id: 'protected', case: "GET /bench/protected (auth: 'required')", url: `${cached.url}/bench/protected`, headers: withToken, protected: true },
      { id: 'rsa', case: 'same, verifier cache off (RSA-4096 every request)', url: `${uncached.url}/bench/protected`, headers: withToken, protected: true },
    ].map((t) => ({ ...t, samples: [] }));
    for (const t of targets) await check(t);

    log(`warm-up: ${WARMUP_SECONDS} s per target`);
    for (const t of targets) await load.run({ url: t.url, headers: t.headers, connections: CONNECTIONS, seconds: WARMUP_SECONDS });
    log(`${ROUNDS} rounds x ${targets.length} targets x ${SECONDS} s, ${CONNECTIONS} connections`);
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < targets.length; i++) {
        const t = targets[(round + i) % targets.length];
        t.samples.push(await load.run({ url: t.url, headers: t.headers, connections: CONNECTIONS, seconds: SECONDS }));
      }
      if ((round + 1) % 5 === 0) log(`round ${round + 1}/${ROUNDS} done`);
    }

    const [open, prot, rsa] = targets;
    for (const t of targets) {
      t.rps = median(t.samples.map((s) => s.requestsPerSecond));
      t.p50 = median(t.samples.map((s) => s.latencyMs.p50));
      t.p99 = median(t.samples.map((s) => s.latencyMs.p99));
    }
    const vsOpen = (t) => ({
      rps: pairedRatio(t.samples, open.samples, (s) => s.requestsPerSecond),
      p50: pairedRatio(t.samples, open.samples, (s) => s.latencyMs.p50),
      p99: pairedRatio(t.samples, open.samples, (s) => s.latencyMs.p99),
      extraUsPerRequest: median(t.samples.map((s, i) => 1e6 / s.requestsPerSecond - 1e6 / open.samples[i].requestsPerSecond)),
    });
    const ratios = { protected: vsOpen(prot), rsa: vsOpen(rsa) };

    const rows = targets.map((t) => {
      const notes = [];
      const r = ratios[t.id];
      if (r) notes.push(`ratio ${formatRatio(r.rps)} vs open (p50 x${formatRatio(r.p50)}, p99 x${formatRatio(r.p99)}); +${Math.round(r.extraUsPerRequest)} µs/request`);
      const bad = badResponses(t.samples);
      if (bad > 0) notes.push(`${bad} non-2xx/errors/timeouts`);
      return {
        case: t.case,
        rate: Math.round(t.rps),
        unit: 'req/s',
        p50Ms: round3(t.p50),
        p99Ms: round3(t.p99),
        note: notes.join('; '),
        ...(r ? { ratios: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round3(v)])) } : {}),
        samples: t.samples.map((s) => ({ rps: Math.round(s.requestsPerSecond), p50Ms: round3(s.latencyMs.p50), p99Ms: round3(s.latencyMs.p99), non2xx: s.non2xx, errors: s.errors, timeouts: s.timeouts })),
      };
    });
    return { config: { connections: CONNECTIONS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, rounds: ROUNDS, signingKeyBits: 4096, logLevel: 'info -> /dev/null' }, rows };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}
