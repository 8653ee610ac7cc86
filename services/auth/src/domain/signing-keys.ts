import { generateKeyPairSync, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { exportJWK, type JWK } from 'jose';
import { AppError, newId, sql, StartupError, TOKEN_ALGORITHM } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as q from '../db/queries/signing-keys.js';

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
}

// Short, so a key rotated by another replica or the CLI is published and used within seconds.
const CACHE_MS = 5_000;

/**
 * RSA signing keys with a `kid`, private halves sealed with the encryption key. The active key is the
 * newest one whose activation time has passed; a rotated-out key stays published (and keeps verifying)
 * as "previous", so rotation logs nobody out. A key created with a delay is published before it signs,
 * so every verifier has it cached by then.
 */
export class SigningKeys {
  private cache: { at: number; keys: q.KeyRow[] } | undefined;
  private readonly privateKeys = new Map<string, KeyObject>();
  private readonly publicKeys = new Map<string, KeyObject>();

  constructor(private readonly ctx: Pick<AppContext, 'db' | 'box' | 'config' | 'logger' | 'platform'>) {}

  /**
   * Creates the first key when there is none (replicas racing here create one: an advisory lock), and checks
   * that the encryption key opens the active one. It does not when the database was sealed under another
   * AUTH_ENCRYPTION_KEY: production refuses to start and says so; development (a fresh clone against an
   * older local database) creates a new signing key and warns — tokens signed before stay verifiable, since
   * public keys are not sealed.
   */
  async ensureKey(): Promise<void> {
    await this.ctx.db.transaction().execute(async (tx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtext('auth.signing_keys'))`.execute(tx);
      const live = await q.liveKeys(tx);
      if (live.length === 0) {
        await this.insertKey(tx, new Date());
        return;
      }
      const { active } = this.classify(live);
      if (!active || this.opens(active)) return;
      const env = this.ctx.platform.APP_ENV;
      if (env !== 'development' && env !== 'test') {
        throw new StartupError(
          `AUTH_ENCRYPTION_KEY does not open the active signing key (${active.kid}): it was sealed with another key. Set AUTH_ENCRYPTION_KEY to that key (or pass it as AUTH_ENCRYPTION_KEY_PREVIOUS during a rotation).`,
        );
      }
      this.ctx.logger.warn({ kid: active.kid }, 'the active signing key was sealed with another AUTH_ENCRYPTION_KEY (a new .nova/ against an older database?): creating a new signing key');
      await this.insertKey(tx, new Date());
    });
    this.cache = undefined;
  }

  private opens(row: q.KeyRow): boolean {
    try {
      this.privateKey(row);
      return true;
    } catch {
      return false;
    }
  }

  /** Adds a new key that starts signing at `activatesAt` (now by default). Returns its kid. */
  async rotate(activatesAt = new Date()): Promise<string> {
    const kid = await this.ctx.db.transaction().execute((tx) => this.insertKey(tx, activatesAt));
    this.cache = undefined;
    this.ctx.logger.info({ kid, activates_at: activatesAt.toISOString() }, 'signing key created');
    return kid;
  }

  async active(): Promise<SigningKey> {
    const { active } = this.classify(await this.keys());
    if (!active) throw new AppError('INTERNAL', 'no active signing key');
    return { kid: active.kid, privateKey: this.privateKey(active) };
  }

  /** Public keys published in the JWKS: pending, active and previous. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const { pending, active, previous } = this.classify(await this.keys());
    const published = [...pending, ...(active ? [active] : []), ...(previous ? [previous] : [])];
    return { keys: published.map((k) => ({ ...k.public_jwk, kid: k.kid, alg: TOKEN_ALGORITHM, use: 'sig' }) as JWK) };
  }

  /** Any non-retired key, for verifying refresh tokens (which outlive several rotations). */
  async verificationKey(kid: string): Promise<KeyObject | undefined> {
    let row = (await this.keys()).find((k) => k.kid === kid);
    if (!row) {
      this.cache = undefined;
      row = (await this.keys()).find((k) => k.kid === kid);
    }
    if (!row) return undefined;
    let key = this.publicKeys.get(kid);
    if (!key) {
      key = createPublicKey({ key: row.public_jwk as never, format: 'jwk' });
      this.publicKeys.set(kid, key);
    }
    return key;
  }

  private classify(keys: q.KeyRow[]) {
    const now = Date.now();
    const live = keys.filter((k) => k.activates_at.getTime() <= now).sort((a, b) => b.activates_at.getTime() - a.activates_at.getTime());
    return { pending: keys.filter((k) => k.activates_at.getTime() > now), active: live[0], previous: live[1] };
  }

  private async keys(): Promise<q.KeyRow[]> {
    if (!this.cache || Date.now() - this.cache.at > CACHE_MS) this.cache = { at: Date.now(), keys: await q.liveKeys(this.ctx.db) };
    return this.cache.keys;
  }

  private privateKey(row: q.KeyRow): KeyObject {
    let key = this.privateKeys.get(row.kid);
    if (!key) {
      key = createPrivateKey(this.ctx.box.open(row.private_key_enc, `signing-key:${row.kid}`));
      this.privateKeys.set(row.kid, key);
    }
    return key;
  }

  private async insertKey(tx: Parameters<typeof q.insertKey>[0], activatesAt: Date): Promise<string> {
    const kid = newId();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: this.ctx.config.AUTH_KEY_SIZE_BITS });
    const jwk = await exportJWK(publicKey);
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await q.insertKey(tx, { kid, public_jwk: JSON.stringify(jwk), private_key_enc: this.ctx.box.seal(pem, `signing-key:${kid}`), activates_at: activatesAt });
    return kid;
  }
}
