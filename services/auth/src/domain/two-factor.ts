import { randomInt } from 'node:crypto';
import { Secret } from 'otpauth';
import { AppError, newId, type Tx } from '@nova/platform';
import type { AppContext } from '../context.js';
import { hashPassword, verifyPassword } from '../crypto/passwords.js';
import * as uq from '../db/queries/users.js';
import { lockedError } from './passwords.js';
import { checkSecondFactor, TOTP_PERIOD, totpFor } from './two-factor-check.js';

export const BACKUP_CODE_COUNT = 10;
const BACKUP_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const BACKUP_CODE_LENGTH = 10;
/** The issuer shown by authenticator apps, and the prefix of the account label. */
const ISSUER = 'Nova';

export interface TwoFactorSetup {
  /** Base32, for typing into an app by hand. */
  secret: string;
  /** `otpauth://totp/Nova:<username>?...`, what a QR code carries. */
  otpauth_uri: string;
}

const sealContext = (userId: string) => `totp:${userId}`;

/**
 * Starts enrolment: a new secret is stored sealed but not yet in force (totp_enabled_at stays null) until
 * the user proves with /2fa/enable that their app produces codes from it. Calling it again replaces a
 * pending secret; once 2FA is on it must be disabled first.
 */
export async function setupTwoFactor(ctx: AppContext, userId: string): Promise<TwoFactorSetup> {
  return ctx.db.transaction().execute(async (tx) => {
    const user = await uq.lockById(tx, userId);
    if (!user) throw new AppError('NOT_FOUND', 'account not found');
    if (user.totp_enabled_at) throw new AppError('CONFLICT', 'two-factor authentication is already enabled; disable it before setting it up again');
    const secret = new Secret({ size: 20 }).base32;
    await tx
      .updateTable('users')
      .set({ totp_secret_enc: ctx.box.seal(secret, sealContext(user.id)), totp_enabled_at: null, totp_last_step: null, updated_at: new Date() })
      .where('id', '=', user.id)
      .execute();
    return { secret, otpauth_uri: totpFor(secret, user.username, ISSUER).toString() };
  });
}

/**
 * Turns 2FA on once a code from the pending secret checks out (±1 step; the step is recorded so the same
 * code cannot log in afterwards), and returns fresh backup codes: shown this once, stored argon2-hashed.
 */
export async function enableTwoFactor(ctx: AppContext, userId: string, code: string): Promise<{ backup_codes: string[] }> {
  return ctx.db.transaction().execute(async (tx) => {
    const user = await uq.lockById(tx, userId);
    if (!user) throw new AppError('NOT_FOUND', 'account not found');
    if (user.totp_enabled_at) throw new AppError('CONFLICT', 'two-factor authentication is already enabled');
    if (!user.totp_secret_enc) throw new AppError('PRECONDITION_FAILED', 'no two-factor setup in progress: call /api/v1/auth/2fa/setup first');
    const step = matchingStep(ctx.box.open(user.totp_secret_enc, sealContext(user.id)), code);
    if (step === null) throw new AppError('VALIDATION_FAILED', 'the code does not match; check the time on your device and try again', { details: { field: 'code' } });
    await tx.updateTable('users').set({ totp_enabled_at: new Date(), totp_last_step: step, updated_at: new Date() }).where('id', '=', user.id).execute();
    const codes = await replaceBackupCodes(tx, user.id);
    ctx.logger.info({ user_id: user.id }, 'two-factor authentication enabled');
    return { backup_codes: codes };
  });
}

/**
 * Turns 2FA off: needs the password and a current code (TOTP or an unused backup code), so a stolen access
 * token alone cannot remove the second factor. Wrong passwords and codes count towards the login lockout.
 */
export async function disableTwoFactor(ctx: AppContext, userId: string, password: string, code: string): Promise<void> {
  const found = await uq.findById(ctx.db, userId);
  if (!found) throw new AppError('NOT_FOUND', 'account not found');
  if (!found.totp_enabled_at) throw new AppError('CONFLICT', 'two-factor authentication is not enabled');
  if (!found.password_hash) {
    throw new AppError('PRECONDITION_FAILED', 'this account has no password: set one with a password reset before disabling two-factor authentication');
  }
  const lockedBefore = lockedError(found);
  if (lockedBefore) throw lockedBefore;
  const passwordOk = await verifyPassword(found.password_hash, password);
  const refusal = await ctx.db.transaction().execute(async (tx) => {
    const user = await uq.lockById(tx, userId);
    if (!user) return new AppError('NOT_FOUND', 'account not found');
    const locked = lockedError(user);
    if (locked) return locked;
    if (!user.totp_enabled_at) return new AppError('CONFLICT', 'two-factor authentication is not enabled');
    // The hash may have changed since it was checked (a concurrent password change): that counts as wrong.
    if (!passwordOk || user.password_hash !== found.password_hash) {
      await uq.recordFailedLogin(tx, user.id, ctx.config.AUTH_LOCKOUT_THRESHOLD, ctx.config.AUTH_LOCKOUT_SECONDS);
      return wrongPasswordOrCode();
    }
    if (!(await checkSecondFactor(ctx, tx, user, code))) {
      await uq.recordFailedLogin(tx, user.id, ctx.config.AUTH_LOCKOUT_THRESHOLD, ctx.config.AUTH_LOCKOUT_SECONDS);
      return wrongPasswordOrCode();
    }
    await tx.updateTable('users').set({ totp_secret_enc: null, totp_enabled_at: null, totp_last_step: null, updated_at: new Date() }).where('id', '=', user.id).execute();
    await tx.deleteFrom('backup_codes').where('user_id', '=', user.id).execute();
    await uq.recordSuccessfulLogin(tx, user.id);
    ctx.logger.info({ user_id: user.id }, 'two-factor authentication disabled');
    return null;
  });
  if (refusal) throw refusal;
}

/** The time step a 6-digit code belongs to within ±1 step of now, or null. */
function matchingStep(secret: string, code: string): number | null {
  const token = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) return null;
  const now = Date.now();
  const delta = totpFor(secret).validate({ token, timestamp: now, window: 1 });
  return delta === null ? null : Math.floor(now / 1000 / TOTP_PERIOD) + delta;
}

async function replaceBackupCodes(tx: Tx, userId: string): Promise<string[]> {
  const codes = Array.from({ length: BACKUP_CODE_COUNT }, newBackupCode);
  // argon2 runs on the libuv pool: hashing in parallel keeps the row lock short.
  const hashes = await Promise.all(codes.map((c) => hashPassword(normalizeBackupCode(c))));
  await tx.deleteFrom('backup_codes').where('user_id', '=', userId).execute();
  await tx
    .insertInto('backup_codes')
    .values(hashes.map((code_hash) => ({ id: newId(), user_id: userId, code_hash })))
    .execute();
  return codes;
}

/** 10 random base32 characters (50 bits), shown as `xxxxx-xxxxx`. */
function newBackupCode(): string {
  let s = '';
  for (let i = 0; i < BACKUP_CODE_LENGTH; i++) s += BACKUP_ALPHABET[randomInt(BACKUP_ALPHABET.length)];
  return `${s.slice(0, 5)}-${s.slice(5)}`;
}

/** The form that is hashed and that checkSecondFactor compares: lower case, no dash or spaces. */
function normalizeBackupCode(code: string): string {
  return code.replace(/\s+/g, '').toLowerCase().replace(/-/g, '');
}

function wrongPasswordOrCode(): AppError {
  return new AppError('VALIDATION_FAILED', 'the password or the code is wrong', { details: { fields: ['password', 'code'] } });
}
