import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AppEnv } from '../config/platform.js';
import type { Logger } from '../logging/logger.js';
import { StartupError } from '../runtime/dependencies.js';

/**
 * AES-256-GCM encryption at rest for values a service must read back (signing keys, TOTP secrets, provider
 * tokens, message bodies). Each value names the key that sealed it, so the key can be rotated: new values
 * use the current key, old ones still open with a previous key until re-sealed.
 * Format: `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url parts).
 */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  /** Id of the key new values are sealed with (the first 8 hex digits of its SHA-256). */
  readonly currentKeyId: string;

  constructor(current: Buffer, previous: Buffer[] = []) {
    for (const key of [current, ...previous]) {
      if (key.length !== 32) throw new Error('encryption keys must be 32 bytes');
      this.keys.set(keyId(key), key);
    }
    this.currentKeyId = keyId(current);
  }

  /** Ids of every key this box can open with, the current one first. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentKeyId)!, iv);
    cipher.setAAD(Buffer.from(context));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', this.currentKeyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  /** Opens a sealed value; `context` must match the one it was sealed with (binding it to its row). */
  open(sealed: string, context: string): string {
    const [version, id, iv, tag, ct] = sealed.split('.');
    const key = id ? this.keys.get(id) : undefined;
    if (version !== 'v1' || !key || !iv || !tag || ct === undefined) throw new Error('sealed value is malformed or its key is unknown');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }

  /**
   * A 32-byte subkey of the key `id` (HKDF-SHA256 with `purpose` as info), for uses beside sealing that must
   * rotate with the key (e.g. keyed hashes); undefined for an unknown id.
   */
  subkey(id: string, purpose: string): Buffer | undefined {
    const key = this.keys.get(id);
    return key ? Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), purpose, 32)) : undefined;
  }
}

function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** A 32-byte key from its base64 config value; a StartupError naming the variable otherwise. */
export function decodeEncryptionKey(b64: string, name: string): Buffer {
  const key = Buffer.from(b64, 'base64');
  if (key.length !== 32) throw new StartupError(`${name} must be the base64 of exactly 32 bytes (openssl rand -base64 32)`);
  return key;
}

export interface EncryptionKeyOptions {
  /** The configured value (base64), if any. */
  configured: string | undefined;
  /** The variable's name, for messages. */
  name: string;
  appEnv: AppEnv;
  logger: Logger;
  /** Where development keeps a generated key (git-ignored `.nova/…`). */
  devKeyFile: string;
}

/**
 * The key that seals values at rest. Outside development and test it must be configured. In development a
 * random key is created once in `devKeyFile`, so `npm start` works on a fresh clone without a secret in the
 * repository.
 */
export function loadEncryptionKey(opts: EncryptionKeyOptions): Buffer {
  if (opts.configured) return decodeEncryptionKey(opts.configured, opts.name);
  if (opts.appEnv !== 'development' && opts.appEnv !== 'test') {
    throw new StartupError(`${opts.name} is required when APP_ENV=${opts.appEnv} (base64 of 32 random bytes: openssl rand -base64 32)`);
  }
  try {
    return decodeEncryptionKey(readFileSync(opts.devKeyFile, 'utf8').trim(), opts.devKeyFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const key = randomBytes(32);
    mkdirSync(dirname(opts.devKeyFile), { recursive: true });
    writeFileSync(opts.devKeyFile, key.toString('base64'), { mode: 0o600 });
    opts.logger.warn({ file: opts.devKeyFile }, `${opts.name} is not set: generated a development key`);
    return key;
  }
}
