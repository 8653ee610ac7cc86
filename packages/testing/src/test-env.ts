import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { envSource, platformSpec, readConfig, type PlatformConfig } from '@nova/platform';

/** Where the test suite finds the real services (the same defaults `.ci/run` starts). */
export const TEST_POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const TEST_NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

export interface TestEnv {
  /** Unique id of this test file's environment. */
  id: string;
  databaseUrl: string;
  redisKeyPrefix: string;
  natsPrefix: string;
  /** Platform config pointing at this environment; `overrides` are raw env values. */
  config(overrides?: Record<string, string>): PlatformConfig;
  /** Raw env for code that reads a ConfigSource (the CLI, runners). */
  env(overrides?: Record<string, string>): Record<string, string>;
  cleanup(): Promise<void>;
}

/**
 * One isolated environment per test file: its own PostgreSQL database, Redis key prefix and NATS
 * subject/stream prefix, so files run in parallel without seeing each other.
 */
export async function createTestEnv(): Promise<TestEnv> {
  const id = randomBytes(5).toString('hex');
  const dbName = `nova_t_${id}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${dbName}`);
  } finally {
    await admin.end();
  }
  const dbUrl = new URL(TEST_POSTGRES_ADMIN_URL);
  dbUrl.pathname = `/${dbName}`;
  const databaseUrl = dbUrl.toString();
  const redisKeyPrefix = `t:${id}:`;
  const natsPrefix = `t${id}`;

  const env = (overrides: Record<string, string> = {}): Record<string, string> => ({
    APP_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: databaseUrl,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: redisKeyPrefix,
    NATS_URL: TEST_NATS_URL,
    NATS_SUBJECT_PREFIX: natsPrefix,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    GRPC_HOST: '127.0.0.1',
    GRPC_PORT: '0',
    OUTBOX_POLL_INTERVAL_MS: '50',
    ...overrides,
  });

  return {
    id,
    databaseUrl,
    redisKeyPrefix,
    natsPrefix,
    env,
    config: (overrides) => readConfig(platformSpec, envSource(env(overrides))),
    async cleanup() {
      const admin = new pg.Client({ connectionString: TEST_POSTGRES_ADMIN_URL });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
      const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await redis.connect();
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisKeyPrefix}*`, 'COUNT', 500);
          cursor = next;
          if (keys.length > 0) await redis.del(...keys);
        } while (cursor !== '0');
      } catch {
        // Redis may be deliberately unreachable in a test; nothing to clean then.
      } finally {
        redis.disconnect();
      }
      try {
        const nc = await connect({ servers: TEST_NATS_URL, timeout: 2_000 });
        try {
          const jsm = await jetstreamManager(nc);
          for await (const name of jsm.streams.names()) {
            const n = name.toLowerCase();
            if (n.startsWith(natsPrefix) || n.startsWith(`kv_${natsPrefix}`)) await jsm.streams.delete(name);
          }
        } finally {
          await nc.close();
        }
      } catch {
        // NATS may be deliberately unreachable in a test.
      }
    },
  };
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, what: string, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

const HealthClient = grpc.makeGenericClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'grpc.health.v1.Health');

/** `grpc.health.v1.Health/Check` against `address`: the status name (SERVING, NOT_SERVING) or the error details. */
export async function grpcHealthCheck(address: string, service: string, credentials = grpc.credentials.createInsecure(), options: grpc.ClientOptions = {}): Promise<string> {
  const client = new HealthClient(address, credentials, options) as unknown as grpc.Client & {
    check(req: { service: string }, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { status: string | number }) => void): void;
  };
  try {
    return await new Promise<string>((resolve) => {
      client.check({ service }, { deadline: Date.now() + 5_000 }, (err, res) => {
        if (err) resolve(`${grpc.status[err.code]}: ${err.details}`);
        else resolve(typeof res?.status === 'number' ? ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'][res.status]! : String(res?.status));
      });
    });
  } finally {
    client.close();
  }
}
