// Pre-key bundle fetches (GET /api/v1/keys/:userId): each claims one one-time EC and one one-time Kyber
// prekey of the target's device (a DELETE … FOR UPDATE SKIP LOCKED each) through the fail-closed `keys`
// rate limit. 2,000 fetches by 200 callers (the limit is 60/min per caller), 16 concurrent; every key
// handed out must be distinct.
import { performance } from 'node:perf_hooks';
import { now, percentile, startE2ee } from './e2ee-support.mjs';
import { round3 } from './auth-support.mjs';

export const description = 'E2EE pre-key bundle fetches (atomic one-time key claims, fail-closed rate limit): bundles/s and p50/p99 latency';

const FETCHES = 2_000;
const CALLERS = 200;
const CONCURRENCY = 16;

export async function run({ log }) {
  const e = await startE2ee({ log, users: 1 });
  try {
    const target = await e.device(e.ids[0], FETCHES);
    log(`uploaded ${FETCHES} one-time EC and Kyber prekeys`);
    const tokens = [];
    for (let i = 0; i < CALLERS; i++) tokens.push(await e.issuer.sign({}));
    const latencies = [];
    const ec = new Set();
    const kyber = new Set();
    let next = 0;
    let bad = 0;
    const t0 = now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < FETCHES) {
          const i = next++;
          const s = performance.now();
          const res = await e.api('GET', `/api/v1/keys/${target.userId}`, tokens[i % CALLERS]);
          latencies.push(performance.now() - s);
          if (res.status !== 200) bad++;
          else {
            ec.add(res.body.devices[0].prekey?.key_id);
            kyber.add(res.body.devices[0].kyber_prekey.key_id);
          }
        }
      }),
    );
    const seconds = (now() - t0) / 1000;
    if (bad > 0 || ec.size !== FETCHES || kyber.size !== FETCHES) throw new Error(`${bad} failed fetches; ${ec.size} distinct EC and ${kyber.size} distinct Kyber keys of ${FETCHES}`);
    const sorted = Float64Array.from(latencies).sort();
    const result = { bundlesPerSecond: Math.round(FETCHES / seconds), p50: round3(percentile(sorted, 50)), p99: round3(percentile(sorted, 99)) };
    return { rows: [{ case: `bundle fetch (${FETCHES} by ${CALLERS} callers, ${CONCURRENCY} concurrent)`, rate: result.bundlesPerSecond, unit: 'bundles/s', p50Ms: result.p50, p99Ms: result.p99, note: 'every one-time key distinct' }], ...result };
  } finally {
    await e.stop();
  }
}
