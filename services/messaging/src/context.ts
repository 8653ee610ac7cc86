import { decodeEncryptionKey, loadEncryptionKey, SecretBox, type AccessTokenVerifier, type ConfigOf, type Kysely, type Logger, type Outbox, type PlatformConfig, type ServiceDeps } from '@nova/platform';
import { grpcUsers, type Users } from './clients/users.js';
import type { messagingConfig } from './config.js';
import type { MessagingDb } from './db/schema.js';
import { BodyCipher } from './domain/body-crypto.js';
import { RedisFanout, type Realtime } from './realtime/fanout.js';
import { Hub } from './realtime/hub.js';
import { Presence } from './realtime/presence.js';
import { messagingMetrics, type MessagingMetrics } from './metrics.js';

export type MessagingConfig = ConfigOf<typeof messagingConfig>;

/** Everything the messaging service's domain code may touch, built once from config by the runner. */
export interface AppContext {
  db: Kysely<MessagingDb>;
  logger: Logger;
  outbox: Outbox;
  platform: PlatformConfig;
  config: MessagingConfig;
  /** The user service (settings, blocks, follows), behind an interface tests may replace. */
  users: Users;
  /** Seals and opens message bodies (encryption at rest) and hashes search terms. */
  cipher: BodyCipher;
  /** This instance's WebSocket connections. */
  hub: Hub;
  /** Pushes frames to users' sockets on every instance. */
  realtime: Realtime;
  tokenVerifier: AccessTokenVerifier;
  metrics: MessagingMetrics;
  /** Who is connected (across instances) and when they were last active. */
  presence: Presence;
}

/** Where development keeps the key it generates when MESSAGING_ENCRYPTION_KEY is unset (git-ignored). */
const DEV_KEY_FILE = '.nova/dev-messaging-key';

export function createContext(deps: ServiceDeps<MessagingConfig>, overrides: Partial<AppContext> = {}): AppContext & { fanout: RedisFanout } {
  const c = deps.config;
  const current = loadEncryptionKey({ configured: c.MESSAGING_ENCRYPTION_KEY, name: 'MESSAGING_ENCRYPTION_KEY', appEnv: deps.appEnv, logger: deps.logger, devKeyFile: DEV_KEY_FILE });
  const previous = c.MESSAGING_ENCRYPTION_KEY_PREVIOUS ? [decodeEncryptionKey(c.MESSAGING_ENCRYPTION_KEY_PREVIOUS, 'MESSAGING_ENCRYPTION_KEY_PREVIOUS')] : [];
  // The gauge reads the hub at scrape time, after both exist.
  const metrics = messagingMetrics(deps.metrics, () => hub.size);
  const hub = new Hub({ maxBufferedBytes: c.MESSAGING_WS_MAX_BUFFERED_KIB * 1024, maxConnectionsPerUser: c.MESSAGING_WS_MAX_CONNECTIONS_PER_USER, metrics });
  const fanout = new RedisFanout({ redis: deps.redis, hub, logger: deps.logger, keyPrefix: deps.platform.REDIS_KEY_PREFIX, metrics });
  return {
    db: deps.db as Kysely<MessagingDb>,
    logger: deps.logger,
    outbox: deps.outbox,
    platform: deps.platform,
    config: c,
    users: grpcUsers(deps.grpc),
    cipher: new BodyCipher(new SecretBox(current, previous)),
    hub,
    realtime: fanout,
    tokenVerifier: deps.tokenVerifier,
    metrics,
    presence: new Presence({ redis: deps.redis, logger: deps.logger, ttlMs: c.MESSAGING_WS_HEARTBEAT_SECONDS * 2_000 }),
    fanout,
    ...overrides,
  };
}
