import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createMetrics, createServicePool, runServices, SecretBox, StartupError } from '@nova/platform';
import { createTestEnv, type TestEnv } from '@nova/testing';
import { authService } from '../src/index.js';
import { SigningKeys } from '../src/domain/signing-keys.js';

/** A database whose signing keys were sealed under another AUTH_ENCRYPTION_KEY. */
let env: TestEnv;
const first = randomBytes(32);

beforeAll(async () => {
  env = await createTestEnv();
  const platform = await runServices({ services: [authService], env: env.env({ AUTH_KEY_SIZE_BITS: '2048', AUTH_ENCRYPTION_KEY: first.toString('base64') }) });
  await platform.stop();
});
afterAll(async () => {
  await env?.cleanup();
});

async function register(port: number, n: number) {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.9.0.${n}` },
    body: JSON.stringify({ email: `k${n}@example.com`, username: `key_user_${n}`, password: 'correct-horse-battery-staple' }),
  });
  return res.status;
}

describe('signing keys sealed under another encryption key', () => {
  it('in development, a new signing key is created and sign-up works', async () => {
    const platform = await runServices({
      services: [authService],
      env: env.env({ AUTH_KEY_SIZE_BITS: '2048', AUTH_ENCRYPTION_KEY: randomBytes(32).toString('base64'), TRUSTED_PROXIES: '127.0.0.1' }),
    });
    try {
      expect(await register(platform.httpPort, 1)).toBe(201);
    } finally {
      await platform.stop();
    }
  });

  it('in production, start-up stops with a message naming the variable', async () => {
    const logger = createLogger({ level: 'silent' });
    const pool = createServicePool({ service: 'auth-check', schema: 'auth', connectionString: env.databaseUrl, max: 1, acquireTimeoutMs: 5_000, statementTimeoutMs: 0, metrics: createMetrics({ defaultMetrics: false }), logger });
    try {
      const keys = new SigningKeys({
        db: pool.db,
        box: new SecretBox(randomBytes(32)),
        config: { AUTH_KEY_SIZE_BITS: 2048 } as never,
        logger,
        platform: { APP_ENV: 'production' } as never,
      });
      const err = await keys.ensureKey().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StartupError);
      expect((err as Error).message).toContain('AUTH_ENCRYPTION_KEY does not open the active signing key');
    } finally {
      await pool.close();
    }
  });
});
