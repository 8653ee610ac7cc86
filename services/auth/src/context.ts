import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { StartupError, type AppEnv, type ConfigOf, type Kysely, type Logger, type Outbox, type PlatformConfig, type Redis, type ServiceDeps } from '@nova/platform';
import type { authConfig } from './config.js';
import { SecretBox } from './crypto/secret-box.js';
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
  const box = new SecretBox(encryptionKey(deps.config.AUTH_ENCRYPTION_KEY, deps.appEnv, deps.logger), deps.config.AUTH_ENCRYPTION_KEY_PREVIOUS ? [decodeKey(deps.config.AUTH_ENCRYPTION_KEY_PREVIOUS, 'AUTH_ENCRYPTION_KEY_PREVIOUS')] : []);
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

function decodeKey(b64: string, name: string): Buffer {
  const key = Buffer.from(b64, 'base64');
  if (key.length !== 32) throw new StartupError(`${name} must be the base64 of exactly 32 bytes (openssl rand -base64 32)`);
  return key;
}

const DEV_KEY_FILE = '.nova/dev-encryption-key';

/**
 * The key that seals secrets at rest. Outside development and test it must be configured. In development a
 * random key is created once in .nova/ (git-ignored), so `npm start` works on a fresh clone without a
 * secret in the repository.
 */
function encryptionKey(configured: string | undefined, appEnv: AppEnv, logger: Logger): Buffer {
  if (configured) return decodeKey(configured, 'AUTH_ENCRYPTION_KEY');
  if (appEnv !== 'development' && appEnv !== 'test') {
    throw new StartupError(`AUTH_ENCRYPTION_KEY is required when APP_ENV=${appEnv} (base64 of 32 random bytes: openssl rand -base64 32)`);
  }
  try {
    return decodeKey(readFileSync(DEV_KEY_FILE, 'utf8').trim(), DEV_KEY_FILE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const key = randomBytes(32);
    mkdirSync(dirname(DEV_KEY_FILE), { recursive: true });
    writeFileSync(DEV_KEY_FILE, key.toString('base64'), { mode: 0o600 });
    logger.warn({ file: DEV_KEY_FILE }, 'AUTH_ENCRYPTION_KEY is not set: generated a development key');
    return key;
  }
}
