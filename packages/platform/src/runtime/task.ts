import type { Client } from '@grpc/grpc-js';
import type { Redis } from 'ioredis';
import type { ConfigOf, ConfigSpec } from '../config/spec.js';
import { AppError } from '../errors/index.js';
import { createServicePool } from '../db/pool.js';
import { connectNats, ensureStreams, NatsStartupError, Outbox, OutboxRelay, type NatsHandle } from '../events/index.js';
import type { ClientConstructor, GrpcClient } from '../grpc/client.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { createMetrics } from '../metrics/metrics.js';
import { RateLimiter } from '../rate-limit/index.js';
import { createRedis } from '../redis/client.js';
import { checkRedis, ensureDatabase, jetStreamMissing, natsUnreachable } from './dependencies.js';
import { createGrpcWiring, type GrpcClients, type GrpcWiring } from './grpc-wiring.js';
import { loadConfigs, migrateAll } from './runner.js';
import { SERVICES, type ServiceName } from './services.js';
import type { ServiceDeps, ServiceModule } from './service.js';

export interface TaskOptions {
  /** Where the task's logs go (default: JSON lines on stderr at LOG_LEVEL, so stdout stays the command's). */
  logger?: Logger;
  /** Apply the service's migrations first (default true). */
  migrate?: boolean;
  /** Publish what the task wrote to the outbox before returning (default true; at most `flushTimeoutMs`). */
  flushOutbox?: boolean;
  flushTimeoutMs?: number;
}

/** Connections a task takes from the database: it runs beside the serving replicas, inside their budget's reserve. */
const TASK_POOL_MAX = 2;

/**
 * Runs `fn` with the same ServiceDeps the runner gives `module`, without serving anything: the operational
 * commands (`nova keys rotate`, `nova users role`) use it to reach a service's domain code. Loads and
 * validates the config, makes sure the database exists and migrates this one service, connects its pool,
 * Redis and NATS, runs `fn`, publishes the events `fn` wrote to the outbox (the serving replicas' relays
 * would too, later), and closes everything whatever happened.
 *
 * The deps differ from the runner's in three ways: `consumer()` throws (a task handles no events), gRPC
 * clients are created on first use (so a task that calls no other service needs no gRPC TLS files), and
 * `tokenVerifier` refuses every token (a task serves no requests, and has no JWKS to fetch).
 */
export async function runTask<S extends ConfigSpec, T>(
  module: ServiceModule<S>,
  env: Record<string, string | undefined>,
  fn: (deps: ServiceDeps<ConfigOf<S>>) => Promise<T> | T,
  opts: TaskOptions = {},
): Promise<T> {
  const { platform, perService } = await loadConfigs([module], env);
  const logger = (opts.logger ?? createLogger({ level: platform.LOG_LEVEL, name: 'nova-task', destination: { write: (line: string) => void process.stderr.write(line) } })).child({ service: module.name, task: true });
  const metrics = createMetrics({ defaultMetrics: false });
  const { schema } = SERVICES[module.name];
  const cleanups: Array<() => Promise<void>> = [];

  try {
    await ensureDatabase(platform.DATABASE_URL);
    if (opts.migrate ?? true) await migrateAll(platform, [module], logger, metrics);

    const pool = createServicePool({
      service: module.name,
      schema,
      connectionString: platform.DATABASE_URL,
      max: TASK_POOL_MAX,
      acquireTimeoutMs: platform.DB_ACQUIRE_TIMEOUT_MS,
      statementTimeoutMs: platform.DB_STATEMENT_TIMEOUT_MS,
      metrics,
      logger,
    });
    cleanups.push(() => pool.close());

    const redis: Redis = createRedis({ url: platform.REDIS_URL, keyPrefix: platform.REDIS_KEY_PREFIX, commandTimeoutMs: platform.REDIS_COMMAND_TIMEOUT_MS, logger });
    cleanups.push(async () => redis.disconnect());
    await checkRedis(redis, platform.REDIS_URL);

    let nats: NatsHandle;
    try {
      nats = await connectNats({ servers: platform.NATS_URL, name: `nova-${module.name}-task`, logger });
    } catch (err) {
      if (err instanceof NatsStartupError && err.code === 'JETSTREAM_NOT_ENABLED') throw jetStreamMissing(platform.NATS_URL);
      throw natsUnreachable(platform.NATS_URL, err);
    }
    cleanups.push(() => nats.close());
    await ensureStreams(nats.jsm, platform.NATS_SUBJECT_PREFIX);

    let wiring: GrpcWiring | undefined;
    const grpc: GrpcClients = {
      get<C extends Client>(service: ServiceName, Ctor: ClientConstructor<C>): GrpcClient<C> {
        if (!wiring) {
          wiring = createGrpcWiring({ platform, logger, metrics });
          const created = wiring;
          cleanups.push(() => created.shutdown());
        }
        return wiring.clients.get(service, Ctor);
      },
    };

    const deps: ServiceDeps<ConfigOf<S>> = {
      name: module.name,
      appEnv: platform.APP_ENV,
      platform,
      config: (perService.get(module.name) ?? {}) as ConfigOf<S>,
      logger,
      metrics,
      db: pool.db,
      rawDb: pool.raw,
      redis,
      nats,
      outbox: new Outbox({ service: module.name, schema, prefix: platform.NATS_SUBJECT_PREFIX }),
      consumer: () => {
        throw new Error('a task does not consume events: declare consumers in the service\'s create()');
      },
      grpc,
      rateLimiter: new RateLimiter({ redis, metrics, logger }),
      tokenVerifier: {
        verify: () => Promise.reject(new AppError('INTERNAL', 'a task does not verify access tokens')),
      },
    };

    const result = await fn(deps);
    if (opts.flushOutbox ?? true) {
      const relay = new OutboxRelay({ service: module.name, schema, db: pool.raw, js: nats.js, metrics, logger, prefix: platform.NATS_SUBJECT_PREFIX });
      await flushOutbox(relay, logger, opts.flushTimeoutMs ?? 5_000);
    }
    return result;
  } finally {
    for (const close of cleanups.reverse()) await close().catch((err: unknown) => logger.warn({ err }, 'error while closing task resources'));
  }
}

/** Publishes due outbox rows until none is left, a publish fails or time is up; the serving relays do the rest. */
async function flushOutbox(relay: OutboxRelay, logger: Logger, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      const batch = await relay.runOnce();
      if (batch.claimed === 0 || batch.error !== undefined) return;
    }
  } catch (err) {
    logger.warn({ err }, 'could not publish the outbox now; the service\'s relay will');
  }
}
