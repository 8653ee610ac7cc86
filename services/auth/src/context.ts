import { decodeEncryptionKey, loadEncryptionKey, SecretBox, type ConfigOf, type Kysely, type Logger, type Outbox, type PlatformConfig, type Redis, type ServiceDeps } from '@nova/platform';
import type { authConfig } from './config.js';
import type { AuthDb } from './db/schema.js';
import { SigningKeys } from './domain/signing-keys.js';
import { createMailer, type Mailer } from './mail/mailer.js';

export type AuthConfig = ConfigOf<typeof authConfig>;

/** Everything the auth service's domain code may touch, built once from config by the runner. */
export interface AppContext {
  db: Kysely<AuthDb>;
  logger: Logger;
  config: AuthConfig;
  platform: PlatformConfig;
  outbox: Outbox;
  redis: Redis;
  box: SecretBox;
  keys: SigningKeys;
  mailer: Mailer;
}

export function createContext(deps: ServiceDeps<AuthConfig>, overrides: Partial<AppContext> = {}): AppContext {
  const current = loadEncryptionKey({ configured: deps.config.AUTH_ENCRYPTION_KEY, name: 'AUTH_ENCRYPTION_KEY', appEnv: deps.appEnv, logger: deps.logger, devKeyFile: DEV_KEY_FILE });
  const box = new SecretBox(current, deps.config.AUTH_ENCRYPTION_KEY_PREVIOUS ? [decodeEncryptionKey(deps.config.AUTH_ENCRYPTION_KEY_PREVIOUS, 'AUTH_ENCRYPTION_KEY_PREVIOUS')] : []);
  const base = {
    db: deps.db as Kysely<AuthDb>,
    logger: deps.logger,
    config: deps.config,
    platform: deps.platform,
    outbox: deps.outbox,
    redis: deps.redis,
    box,
    mailer: overrides.mailer ?? createMailer(deps.config, deps.appEnv, deps.logger),
  };
  return { ...base, keys: new SigningKeys(base), ...overrides };
}

/** Where development keeps the key it generates when AUTH_ENCRYPTION_KEY is unset (git-ignored). */
const DEV_KEY_FILE = '.nova/dev-encryption-key';
