import type { Kysely } from 'kysely';
import type { Redis } from 'ioredis';
import type { AppEnv, PlatformConfig } from '../config/platform.js';
import type { ConfigOf, ConfigSpec } from '../config/spec.js';
import type { Migration } from '../db/migrate.js';
import type { Logger } from '../logging/logger.js';
import type { PlatformMetrics } from '../metrics/metrics.js';
import type { HttpApp } from '../http/app.js';
import type { Outbox, EventConsumer, ConsumerOptions, NatsHandle } from '../events/index.js';
import type { GrpcServiceRegistration, GrpcClients } from './grpc-wiring.js';
import type { RateLimiter } from '../rate-limit/index.js';
import type { AccessTokenVerifier } from '../auth/index.js';
import type { ServiceName } from './services.js';

/** What the runner hands a service: every side effect it may use, built once from config. */
export interface ServiceDeps<C = Record<string, unknown>> {
  name: ServiceName;
  appEnv: AppEnv;
  platform: PlatformConfig;
  /** The service's own variables, validated at boot. */
  config: C;
  logger: Logger;
  metrics: PlatformMetrics;
  /** Kysely bound to the service's schema. */
  db: Kysely<any>;
  /** Kysely without a default schema (transactions spanning the outbox and handled_events). */
  rawDb: Kysely<any>;
  redis: Redis;
  nats: NatsHandle;
  outbox: Outbox;
  /** Creates a durable consumer `<service>-<purpose>`; the runner starts and stops it. */
  consumer(opts: Omit<ConsumerOptions, 'service' | 'schema' | 'db' | 'js' | 'jsm' | 'metrics' | 'logger' | 'prefix' | 'maxDeliver'> & { maxDeliver?: number }): EventConsumer;
  /** gRPC clients to other services (through the network, even inside `nova up`). */
  grpc: GrpcClients;
  rateLimiter: RateLimiter;
  /** Verifies access tokens (HTTP routes use `config: { auth }`; gRPC handlers use authenticateCall). */
  tokenVerifier: AccessTokenVerifier;
}

/** What a service gives back to the runner. */
export interface ServiceInstance {
  /** Public HTTP routes (full paths, e.g. `/api/v1/events`). */
  http?: (app: HttpApp) => Promise<void> | void;
  /** gRPC services it serves on the shared gRPC port. */
  grpc?: GrpcServiceRegistration[];
  /** Extra readiness checks beyond the database, Redis and NATS. */
  readiness?: Record<string, () => Promise<void>>;
  /** Background work beyond the outbox relay and consumers (which the runner manages). */
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

export interface ServiceModule<S extends ConfigSpec = ConfigSpec> {
  name: ServiceName;
  /** One line for `nova` help and the docs. */
  description: string;
  /** The service's own environment variables. */
  config?: S;
  /** Ordered migrations of the service's schema (the schema is named like the service). */
  migrations: Record<string, Migration>;
  create(deps: ServiceDeps<ConfigOf<S>>): Promise<ServiceInstance> | ServiceInstance;
}

export function defineService<S extends ConfigSpec = Record<never, never>>(m: ServiceModule<S>): ServiceModule<S> {
  return m;
}
