// Shared by the auth benchmarks (auth-login, auth-verify): the auth service running in this process against
// a throwaway environment, and a load generator that can POST and vary X-Forwarded-For.
//
// The environment comes from @nova/testing (its built dist): a fresh PostgreSQL database `nova_t_<id>`,
// Redis keys under `t:<id>:` and NATS streams prefixed `t<id>`, all deleted afterwards. It needs the same
// local PostgreSQL, Redis and NATS as the test suite (TEST_POSTGRES_ADMIN_URL, TEST_REDIS_URL, TEST_NATS_URL).
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authService } from '@nova/auth';
import { connectRedis, createLogger, createRedis, runServices } from '@nova/platform';
import { createTestEnv } from '@nova/testing';
import { median } from './lib/format.mjs';

export const PASSWORD = 'bench password that is long enough 42';

/** A pino logger at `level` writing synchronously to /dev/null: the per-request log line is paid for, not shown. */
export function devNullLogger(level = 'info', name = 'bench') {
  const fd = openSync('/dev/null', 'w');
  const logger = createLogger({ level, name, destination: { write: (line) => void writeSync(fd, line) } });
  return { logger, close: () => closeSync(fd) };
}

/**
 * Starts the auth service alone (runServices, as `nova serve auth` does) on 127.0.0.1 with production-like
 * token settings (RSA-4096 keys, the default access lifetime) and TRUSTED_PROXIES=127.0.0.1.
 */
export async function startAuth({ log, overrides = {} }) {
  const env = await createTestEnv();
  const mailDir = mkdtempSync(join(tmpdir(), 'nova-bench-mail-'));
  const sink = devNullLogger('info', 'nova');
  let platform;
  try {
    log(`starting auth in database ${new URL(env.databaseUrl).pathname.slice(1)} (generating an RSA-4096 signing key)`);
    platform = await runServices({
      services: [authService],
      env: env.env({
        AUTH_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        AUTH_KEY_SIZE_BITS: '4096',
        MAIL_DIR: mailDir,
        TRUSTED_PROXIES: '127.0.0.1',
        ...overrides,
      }),
      logger: sink.logger,
    });
  } catch (err) {
    await env.cleanup().catch(() => undefined);
    sink.close();
    throw err;
  }
  const url = `http://127.0.0.1:${platform.httpPort}`;
  // The environment's Redis (its key prefix), for verifiers that must see auth's revocations.
  const redis = createRedis({ url: platform.config.REDIS_URL, keyPrefix: platform.config.REDIS_KEY_PREFIX, commandTimeoutMs: 3_000, logger: sink.logger });
  await connectRedis(redis);
  let address = 0;
  /** JSON request from a distinct client address (the `auth` preset allows 5 per minute per address). */
  const api = async (method, path, { body, token } = {}) => {
    address++;
    const headers = { 'x-forwarded-for': `192.168.${address >> 8}.${address & 255}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  return {
    platform,
    url,
    api,
    redis,
    config: platform.config,
    /** Registers an account and returns it with its first token pair. */
    async register() {
      const username = `bench_${randomBytes(4).toString('hex')}`;
      const res = await api('POST', '/api/v1/auth/register', { body: { email: `${username}@example.com`, username, password: PASSWORD } });
      if (res.status !== 201) throw new Error(`register: expected 201, got ${res.status} ${JSON.stringify(res.body)}`);
      return { username, user: res.body.user, tokens: res.body.tokens };
    },
    async stop() {
      try {
        redis.disconnect();
        await platform.stop();
      } finally {
        sink.close();
        rmSync(mailDir, { recursive: true, force: true });
        await env.cleanup();
        log('auth stopped, database, Redis keys and streams deleted');
      }
    },
  };
}

/** Runs `fn` with `concurrency` loops for `seconds`; returns completions per second. */
export async function rate(fn, { concurrency, seconds }) {
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await fn();
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

/** Median over rounds of a/b computed within each round (paired), as in http-stack. */
export function pairedRatio(a, b, f) {
  return median(a.map((s, i) => f(s) / f(b[i])));
}

export function round3(n) {
  return Math.round(n * 1000) / 1000;
}

/** Non-2xx responses, errors and timeouts over samples: any of them means the run measured something else. */
export function badResponses(samples) {
  return samples.reduce((n, s) => n + s.non2xx + s.errors + s.timeouts, 0);
}

export function statusCodes(samples) {
  const out = {};
  for (const s of samples) for (const [code, v] of Object.entries(s.statusCodes ?? {})) out[code] = (out[code] ?? 0) + v.count;
  return out;
}
