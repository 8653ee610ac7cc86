import { SERVICE_NAMES, type ServiceName } from '../runtime/services.js';
import { v, type ConfigOf, type ConfigSpec, type VarSpec } from './spec.js';

export const APP_ENVS = ['development', 'test', 'staging', 'production'] as const;
export type AppEnv = (typeof APP_ENVS)[number];

/** Variables every service shares. Per-service variables live in each service's own config spec. */
export const platformSpec = {
  APP_ENV: v.oneOf(APP_ENVS, { default: 'development', doc: 'development, test, staging or production; staging and production make gRPC TLS mandatory' }),
  LOG_LEVEL: v.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, { default: 'info', doc: 'pino log level' }),
  HTTP_HOST: v.string({ default: '0.0.0.0', doc: 'HTTP listen address' }),
  HTTP_PORT: v.int({ default: 8080, min: 0, max: 65535, doc: 'HTTP port (every service\'s routes share it)' }),
  GRPC_HOST: v.string({ default: '0.0.0.0', doc: 'gRPC listen address' }),
  GRPC_PORT: v.int({ default: 9090, min: 0, max: 65535, doc: 'gRPC port (every service\'s gRPC server shares it)' }),
  DATABASE_URL: v.url(['postgres', 'postgresql'], { default: 'postgres://postgres@127.0.0.1:5432/nova', secret: false, doc: 'PostgreSQL connection string (one database, one schema per service); `DATABASE_URL_FILE` also works' }),
  DB_POOL_RESERVE: v.int({ default: 20, min: 0, doc: 'connections kept free for admin/migrations when checking the pool budget against max_connections' }),
  DB_ACQUIRE_TIMEOUT_MS: v.int({ default: 10_000, min: 100, doc: 'how long a query waits for a pooled connection' }),
  DB_STATEMENT_TIMEOUT_MS: v.int({ default: 30_000, min: 0, doc: 'server-side statement_timeout for every pooled connection (0 = none)' }),
  REDIS_URL: v.url(['redis', 'rediss'], { default: 'redis://127.0.0.1:6379', doc: 'Redis connection string; `REDIS_URL_FILE` also works' }),
  REDIS_KEY_PREFIX: v.string({ default: 'nova:', doc: 'prefix of every Redis key' }),
  REDIS_COMMAND_TIMEOUT_MS: v.int({ default: 3_000, min: 100, doc: 'Redis command timeout' }),
  NATS_URL: v.string({ default: 'nats://127.0.0.1:4222', doc: 'NATS server(s), comma-separated' }),
  NATS_SUBJECT_PREFIX: v.string({ default: 'nova', doc: 'first token of every event subject and stream name' }),
  EVENT_MAX_DELIVER: v.int({ default: 5, min: 1, doc: 'failed deliveries before an event goes to the dead-letter stream' }),
  OUTBOX_POLL_INTERVAL_MS: v.int({ default: 200, min: 10, doc: 'how often the outbox relay looks for unpublished rows when idle' }),
  TRUSTED_PROXIES: v.list({ default: [], doc: 'IPs/CIDRs of reverse proxies whose X-Forwarded-For is believed' }),
  GRPC_TLS_ENABLED: v.bool({ default: false, doc: 'serve and call gRPC over TLS (forced on in staging/production)' }),
  GRPC_TLS_DOMAIN_NAME: v.optionalString({ doc: 'server name clients expect in the server certificate' }),
  GRPC_TLS_CA_CERT_PATH: v.optionalString({ doc: 'CA bundle that signs server (and client) certificates' }),
  GRPC_TLS_SERVER_CERT_PATH: v.optionalString({ doc: 'server certificate (PEM)' }),
  GRPC_TLS_SERVER_KEY_PATH: v.optionalString({ doc: 'server private key (PEM)' }),
  GRPC_TLS_CLIENT_CERT_PATH: v.optionalString({ doc: 'client certificate for mTLS (PEM)' }),
  GRPC_TLS_CLIENT_KEY_PATH: v.optionalString({ doc: 'client private key for mTLS (PEM)' }),
  GRPC_TLS_REQUIRE_CLIENT_CERT: v.bool({ default: false, doc: 'mTLS: refuse callers without a certificate signed by the CA' }),
  AUTH_ISSUER: v.string({ default: 'nova-auth', doc: '`iss` of the tokens auth signs and every service checks' }),
  AUTH_AUDIENCE: v.string({ default: 'nova', doc: '`aud` of the tokens auth signs and every service checks' }),
  AUTH_JWKS_URL: v.optionalString({ doc: 'where services fetch the token keys (default: this process\'s /.well-known/jwks.json when auth runs here; e.g. http://auth:8080/.well-known/jwks.json)' }),
  GRPC_DEADLINE_MS: v.int({ default: 10_000, min: 1, doc: 'default deadline of every gRPC call' }),
  ...perServiceSpec(),
} satisfies ConfigSpec;

type Upper = Uppercase<ServiceName>;
type PerServiceSpec = Record<`GRPC_ADDR_${Upper}`, VarSpec<string | undefined>> & Record<`DB_POOL_MAX_${Upper}`, VarSpec<number>>;

/** GRPC_ADDR_<SERVICE> and DB_POOL_MAX_<SERVICE> for each of the twelve services. */
function perServiceSpec(): PerServiceSpec {
  return Object.fromEntries(
    SERVICE_NAMES.flatMap((s) => [
      [`GRPC_ADDR_${s.toUpperCase()}`, v.optionalString({ doc: `host:port of the ${s} service's gRPC server (default: this process's gRPC port when ${s} runs here)` })],
      [`DB_POOL_MAX_${s.toUpperCase()}`, v.int({ default: 0, min: 0, doc: `override of the ${s} pool size (0 = the built-in table)` })],
    ]),
  ) as PerServiceSpec;
}

export type PlatformConfig = ConfigOf<typeof platformSpec>;
