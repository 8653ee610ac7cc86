import type { Redis } from 'ioredis';
import { loadConfigSource, type ConfigSource } from '../config/source.js';
import { ConfigError, readConfig } from '../config/read.js';
import { platformSpec, type PlatformConfig } from '../config/platform.js';
import { computeBudget, describeBudget, poolSizeFor, readMaxConnections } from '../db/budget.js';
import { migrateService } from '../db/migrate.js';
import { createServicePool, type ServicePool } from '../db/pool.js';
import { createHttpApp, registerService, type HttpApp, type ReadinessCheck } from '../http/app.js';
import { createLogger, redactUrl, type Logger } from '../logging/logger.js';
import { createMetrics, type PlatformMetrics } from '../metrics/metrics.js';
import { createRedis } from '../redis/client.js';
import { connectNats, ensureStreams, EventConsumer, NatsStartupError, Outbox, OutboxRelay, type NatsHandle } from '../events/index.js';
import { RateLimiter, registerRateLimit } from '../rate-limit/index.js';
import { getUserId, registerAuth, TokenVerifier } from '../auth/index.js';
import { checkRedis, ensureDatabase, jetStreamMissing, natsUnreachable, StartupError } from './dependencies.js';
import { createGrpcWiring, type GrpcWiring } from './grpc-wiring.js';
import { SERVICES, type ServiceName } from './services.js';
import type { ServiceDeps, ServiceInstance, ServiceModule } from './service.js';

export interface RunOptions {
  services: ServiceModule<any>[];
  env: Record<string, string | undefined>;
  /** Overrides for tests (a logger writing to memory, for example). */
  logger?: Logger;
  /** Run migrations before starting (default true). */
  migrate?: boolean;
}

export interface RunningPlatform {
  config: PlatformConfig;
  httpPort: number;
  grpcPort: number;
  http: HttpApp;
  metrics: PlatformMetrics;
  logger: Logger;
  services: ServiceName[];
  stop(): Promise<void>;
}

interface Started {
  module: ServiceModule<any>;
  pool: ServicePool;
  instance: ServiceInstance;
  relay: OutboxRelay;
  consumers: EventConsumer[];
}

/** Reads and validates the platform config and every service's own config at once. */
export async function loadConfigs(modules: ServiceModule<any>[], env: Record<string, string | undefined>): Promise<{ source: ConfigSource; platform: PlatformConfig; perService: Map<ServiceName, Record<string, unknown>> }> {
  const source = await loadConfigSource(env).catch((err: Error) => {
    throw new StartupError(err.message);
  });
  const problems: string[] = [];
  const collect = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      else throw err;
      return undefined;
    }
  };
  const platform = collect(() => readConfig(platformSpec, source));
  const perService = new Map<ServiceName, Record<string, unknown>>();
  for (const m of modules) perService.set(m.name, collect(() => readConfig(m.config ?? {}, source)) ?? {});
  if (problems.length > 0 || !platform) throw new StartupError(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return { source, platform, perService };
}

/** Checks that the pools of `modules` fit the server's max_connections minus the reserve. */
export async function checkPoolBudget(platform: PlatformConfig, modules: ServiceModule<any>[]): Promise<void> {
  const pools = Object.fromEntries(modules.map((m) => [m.name, poolSizeFor(m.name, platform)]));
  const budget = computeBudget(pools, await readMaxConnections(platform.DATABASE_URL), platform.DB_POOL_RESERVE);
  if (!budget.fits) throw new StartupError(describeBudget(budget));
}

/** Applies every given service's migrations, each inside its own schema (the database must exist: ensureDatabase). */
export async function migrateAll(platform: PlatformConfig, modules: ServiceModule<any>[], logger: Logger, metrics = createMetrics({ defaultMetrics: false })): Promise<void> {
  for (const m of modules) {
    const schema = SERVICES[m.name].schema;
    const pool = createServicePool({ service: `${m.name}-migrate`, schema, connectionString: platform.DATABASE_URL, max: 1, acquireTimeoutMs: platform.DB_ACQUIRE_TIMEOUT_MS, statementTimeoutMs: 0, metrics, logger });
    try {
      const result = await migrateService(pool.raw, schema, m.migrations);
      const applied = (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
      if (applied.length > 0) logger.info({ service: m.name, applied }, 'migrations applied');
    } finally {
      await pool.close();
    }
  }
}

/**
 * Starts the given services in one process: one HTTP server carrying every service's routes, one gRPC
 * server carrying every service's gRPC services, each service with its own pool, outbox relay and
 * consumers. `nova up` passes all twelve, `nova serve <name>` one.
 */
export async function runServices(opts: RunOptions): Promise<RunningPlatform> {
  const { platform, perService } = await loadConfigs(opts.services, opts.env);
  const logger = opts.logger ?? createLogger({ level: platform.LOG_LEVEL });
  const metrics = createMetrics();
  const names = opts.services.map((m) => m.name);
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err) => logger.warn({ err }, 'error during shutdown'));
  };

  try {
    // gRPC TLS rules are checked first: a production process without TLS must not touch anything.
    const grpc: GrpcWiring = createGrpcWiring({ platform, logger, metrics });

    await ensureDatabase(platform.DATABASE_URL);
    await checkPoolBudget(platform, opts.services);
    if (opts.migrate ?? true) await migrateAll(platform, opts.services, logger, metrics);

    const redis: Redis = createRedis({ url: platform.REDIS_URL, keyPrefix: platform.REDIS_KEY_PREFIX, commandTimeoutMs: platform.REDIS_COMMAND_TIMEOUT_MS, logger });
    cleanups.push(async () => redis.disconnect());
    await checkRedis(redis, platform.REDIS_URL);

    // Every process verifies access tokens locally against the JWKS auth publishes; revocations are pushed.
    const bound: { port?: number } = {};
    const verifier = new TokenVerifier({
      jwksUrl: jwksUrlFor(platform, names, () => bound.port, logger),
      issuer: platform.AUTH_ISSUER,
      audience: platform.AUTH_AUDIENCE,
      redis,
      logger,
      metrics,
    });
    await verifier.start();
    cleanups.push(() => verifier.stop());

    let nats: NatsHandle;
    try {
      nats = await connectNats({ servers: platform.NATS_URL, name: `nova-${names.length === 1 ? names[0] : 'up'}`, logger });
    } catch (err) {
      if (err instanceof NatsStartupError && err.code === 'JETSTREAM_NOT_ENABLED') throw jetStreamMissing(platform.NATS_URL);
      throw natsUnreachable(platform.NATS_URL, err);
    }
    cleanups.push(() => nats.close());
    await ensureStreams(nats.jsm, platform.NATS_SUBJECT_PREFIX);

    const rateLimiter = new RateLimiter({ redis, metrics, logger });
    const readiness = new Map<string, ReadinessCheck>([
      ['redis', async () => void (await redis.ping())],
      ['nats', async () => void (await nats.nc.flush())],
    ]);
    const http = await createHttpApp({ logger, metrics, trustedProxies: platform.TRUSTED_PROXIES, readiness });
    // Routes declare `config: { auth }`; the rate limiter keys authenticated callers by user id. Service
    // routes are limited by the `api` preset unless they name another (registerService).
    registerAuth(http, verifier);
    registerRateLimit(http, rateLimiter, { trustedProxies: platform.TRUSTED_PROXIES, getUserId });

    const started: Started[] = [];
    for (const module of opts.services) {
      const { schema, healthName } = SERVICES[module.name];
      const pool = createServicePool({
        service: module.name,
        schema,
        connectionString: platform.DATABASE_URL,
        max: poolSizeFor(module.name, platform),
        acquireTimeoutMs: platform.DB_ACQUIRE_TIMEOUT_MS,
        statementTimeoutMs: platform.DB_STATEMENT_TIMEOUT_MS,
        metrics,
        logger,
      });
      cleanups.push(() => pool.close());
      const svcLogger = logger.child({ service: module.name });
      const outbox = new Outbox({ service: module.name, schema, prefix: platform.NATS_SUBJECT_PREFIX });
      const consumers: EventConsumer[] = [];
      const deps: ServiceDeps = {
        name: module.name,
        appEnv: platform.APP_ENV,
        platform,
        config: perService.get(module.name) ?? {},
        logger: svcLogger,
        metrics,
        db: pool.db,
        rawDb: pool.raw,
        redis,
        nats,
        outbox,
        consumer: (c) => {
          const consumer = new EventConsumer({ ...c, service: module.name, schema, db: pool.raw, js: nats.js, jsm: nats.jsm, metrics, logger: svcLogger, prefix: platform.NATS_SUBJECT_PREFIX, maxDeliver: c.maxDeliver ?? platform.EVENT_MAX_DELIVER });
          consumers.push(consumer);
          return consumer;
        },
        grpc: grpc.clients,
        rateLimiter,
        tokenVerifier: verifier,
      };
      const instance = await module.create(deps);
      const relay = new OutboxRelay({ service: module.name, schema, db: pool.raw, js: nats.js, metrics, logger: svcLogger, prefix: platform.NATS_SUBJECT_PREFIX, pollIntervalMs: platform.OUTBOX_POLL_INTERVAL_MS });
      readiness.set(`postgres:${module.name}`, async () => void (await pool.pool.query('SELECT 1')));
      for (const [name, check] of Object.entries(instance.readiness ?? {})) readiness.set(`${module.name}:${name}`, check);
      if (instance.http) await registerService(http, module.name, instance.http);
      for (const reg of instance.grpc ?? []) grpc.server.addService(reg.definition, reg.implementation, { allow: reg.allow, service: module.name });
      grpc.server.setServing(healthName, false);
      started.push({ module, pool, instance, relay, consumers });
    }

    for (const s of started) {
      s.relay.start();
      cleanups.push(() => s.relay.stop());
      for (const c of s.consumers) {
        await c.start();
        cleanups.push(() => c.stop());
      }
      if (s.instance.start) {
        await s.instance.start();
        cleanups.push(async () => s.instance.stop?.());
      }
    }

    // Registered last, so shutdown drains HTTP and gRPC before stopping consumers and closing pools.
    const grpcPort = await grpc.server.listen(platform.GRPC_HOST, platform.GRPC_PORT);
    grpc.setLocalPort(grpcPort, names);
    cleanups.push(() => grpc.shutdown());
    cleanups.push(() => http.close());
    await http.listen({ host: platform.HTTP_HOST, port: platform.HTTP_PORT });
    const address = http.server.address();
    const httpPort = typeof address === 'object' && address ? address.port : platform.HTTP_PORT;
    bound.port = httpPort;
    for (const s of started) grpc.server.setServing(SERVICES[s.module.name].healthName, true);
    grpc.server.setServing('', true);

    const httpUrl = `http://${platform.HTTP_HOST}:${httpPort}`;
    logger.info(
      { services: names, http: httpUrl, grpc: `${platform.GRPC_HOST}:${grpcPort}`, tls: grpc.tlsEnabled, database: redactUrl(platform.DATABASE_URL) },
      `nova is up: ${names.length} service(s); HTTP ${httpUrl} (/health, /ready, /metrics, /openapi.json); gRPC ${platform.GRPC_HOST}:${grpcPort} (${grpc.tlsEnabled ? 'TLS' : 'plaintext'})`,
    );

    let stopping: Promise<void> | undefined;
    return {
      config: platform,
      httpPort,
      grpcPort,
      http,
      metrics,
      logger,
      services: names,
      stop: () =>
        (stopping ??= (async () => {
          // Health first, so load balancers stop sending traffic; then drain, then close in reverse.
          grpc.server.setAllNotServing();
          await cleanup();
          logger.info('nova stopped');
        })()),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * Where this process fetches the token keys: AUTH_JWKS_URL, or this process's own HTTP port when the auth
 * service runs here (known only once it listens, hence a function).
 */
function jwksUrlFor(platform: PlatformConfig, names: ServiceName[], boundPort: () => number | undefined, logger: Logger): string | (() => string) {
  if (platform.AUTH_JWKS_URL) return platform.AUTH_JWKS_URL;
  if (!names.includes('auth')) {
    if (platform.APP_ENV === 'staging' || platform.APP_ENV === 'production') {
      throw new StartupError('the auth service does not run in this process: set AUTH_JWKS_URL (e.g. http://auth:8080/.well-known/jwks.json)');
    }
    const fallback = 'http://127.0.0.1:8080/.well-known/jwks.json';
    logger.warn({ jwks_url: fallback }, 'AUTH_JWKS_URL is not set and auth does not run here: using the default local address');
    return fallback;
  }
  const host = platform.HTTP_HOST === '0.0.0.0' || platform.HTTP_HOST === '::' ? '127.0.0.1' : platform.HTTP_HOST;
  return () => `http://${host.includes(':') ? `[${host}]` : host}:${boundPort() ?? platform.HTTP_PORT}/.well-known/jwks.json`;
}
