// Login throughput, and what bounds it: POST /api/v1/auth/login against the auth service running in this
// process (see auth-support.mjs), next to the raw cost of its two expensive steps measured in the same run
// on the same machine:
// - argon2id verify with the service's parameters (m=19456 KiB, t=2, p=1), which every login pays once;
// - RS256 signing with an RSA-4096 key through jose, which every login pays twice (access + refresh token).
// Both run on libuv's thread pool (argon2's native binding, WebCrypto), which is also where they compete.
//
// Rounds alternate "argon2 verify loop at the thread pool's concurrency" and "login under autocannon", so
// the ratio logins/s ÷ argon2 verifies/s is paired within a round (a noisy neighbour slows both).
import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { LoadGenerator } from './lib/load.mjs';
import { formatRatio, median } from './lib/format.mjs';
import { badResponses, PASSWORD, rate, round3, startAuth, statusCodes } from './auth-support.mjs';

export const description = 'POST /api/v1/auth/login logins/s (p50/p99) vs raw argon2id verifies/s and RSA-4096 signs/s, same run; ratio';

const CONNECTIONS = 8;
const LOGIN_SECONDS = 3;
const ARGON2_SECONDS = 2;
const WARMUP_SECONDS = 2;
const ROUNDS = 3;
// libuv's pool: argon2 and WebCrypto jobs run there, at most this many at once.
const THREADS = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
const ARGON2 = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };

// argon2 and jose exactly as the auth service resolves them.
const authRequire = createRequire(import.meta.resolve('@nova/auth'));
const { default: argon2 } = await import(pathToFileURL(authRequire.resolve('argon2')).href);
const { SignJWT } = await import(pathToFileURL(authRequire.resolve('jose')).href);

export async function run({ log }) {
  const auth = await startAuth({ log });
  const load = new LoadGenerator();
  try {
    const account = await auth.register();
    const job = {
      url: `${auth.url}/api/v1/auth/login`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identifier: account.username, password: PASSWORD }),
      rotateForwardedFor: true,
      connections: CONNECTIONS,
    };
    const probe = await auth.api('POST', '/api/v1/auth/login', { body: { identifier: account.username, password: PASSWORD } });
    if (probe.status !== 200 || !probe.body?.tokens?.access_token) throw new Error(`login probe: expected 200 with tokens, got ${probe.status} ${JSON.stringify(probe.body)}`);

    const hash = await argon2.hash(PASSWORD, { type: argon2.argon2id, ...ARGON2 });
    const verify = async () => {
      if (!(await argon2.verify(hash, PASSWORD))) throw new Error('argon2 verify failed');
    };
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 4096 });
    const sign = () => new SignJWT({ sid: 'bench', token_type: 'access', role: 'user' }).setProtectedHeader({ alg: 'RS256', kid: 'bench' }).setSubject('bench').setIssuedAt().setExpirationTime('15m').sign(privateKey);

    log(`warm-up: ${WARMUP_SECONDS} s of logins, ${CONNECTIONS} connections; thread pool ${THREADS}`);
    await load.run({ ...job, seconds: WARMUP_SECONDS });
    await rate(verify, { concurrency: THREADS, seconds: 1 });

    const logins = [];
    const argon = [];
    for (let round = 0; round < ROUNDS; round++) {
      argon.push(await rate(verify, { concurrency: THREADS, seconds: ARGON2_SECONDS }));
      logins.push(await load.run({ ...job, seconds: LOGIN_SECONDS }));
      log(`round ${round + 1}/${ROUNDS}: ${Math.round(logins.at(-1).requestsPerSecond)} logins/s, ${Math.round(argon.at(-1))} argon2 verifies/s`);
    }
    const argonSerial = await rate(verify, { concurrency: 1, seconds: ARGON2_SECONDS });
    const rsa = await rate(sign, { concurrency: THREADS, seconds: ARGON2_SECONDS });

    const loginRps = median(logins.map((s) => s.requestsPerSecond));
    const argonRps = median(argon);
    const ratio = median(logins.map((s, i) => s.requestsPerSecond / argon[i]));
    const bad = badResponses(logins);
    const notes = [`${formatRatio(ratio)} of argon2 c=${THREADS}`];
    if (bad > 0) notes.push(`${bad} non-2xx/errors/timeouts ${JSON.stringify(statusCodes(logins))}`);
    // What two signatures and one verify would allow if nothing else cost anything: 1 / (1/argon + 2/rsa).
    const bound = 1 / (1 / argonRps + 2 / rsa);

    return {
      config: { connections: CONNECTIONS, loginSeconds: LOGIN_SECONDS, argon2Seconds: ARGON2_SECONDS, rounds: ROUNDS, threadPool: THREADS, argon2: ARGON2, signingKeyBits: 4096 },
      ratios: { loginsPerArgon2Verify: round3(ratio), loginsPerCryptoBound: round3(loginRps / bound) },
      rows: [
        {
          case: `login (${CONNECTIONS} connections)`,
          rate: loginRps,
          unit: 'logins/s',
          p50Ms: round3(median(logins.map((s) => s.latencyMs.p50))),
          p99Ms: round3(median(logins.map((s) => s.latencyMs.p99))),
          note: notes.join('; '),
          samples: logins.map((s) => ({ rps: Math.round(s.requestsPerSecond), p50Ms: round3(s.latencyMs.p50), p99Ms: round3(s.latencyMs.p99), non2xx: s.non2xx, errors: s.errors })),
        },
        { case: `argon2id verify c=${THREADS} (m=19456,t=2,p=1)`, rate: argonRps, unit: 'verifies/s', note: 'one per login', samples: argon.map(Math.round) },
        { case: 'argon2id verify c=1', rate: argonSerial, unit: 'verifies/s', note: `${round3(1000 / argonSerial)} ms each` },
        { case: `RS256 sign RSA-4096 c=${THREADS}`, rate: rsa, unit: 'signs/s', note: `two per login; with argon2: at most ${Math.round(bound)} logins/s, login reaches ${formatRatio(loginRps / bound)}` },
      ],
    };
  } finally {
    await load.close();
    await auth.stop();
  }
}
