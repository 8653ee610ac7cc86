import { Secret, TOTP } from 'otpauth';
import type { Tx } from '@nova/platform';
import type { AppContext } from '../context.js';
import type { UserRow } from '../db/queries/users.js';
import { verifyPassword } from '../crypto/passwords.js';

export const TOTP_PERIOD = 30;

export function totpFor(secretBase32: string, label = 'Nova', issuer = 'Nova'): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: 6, period: TOTP_PERIOD, secret: Secret.fromBase32(secretBase32) });
}

/**
 * Checks a second factor for a user with 2FA on, inside the caller's transaction (which must hold the user
 * row lock): a 6-digit TOTP code within ±1 step, each step accepted once; or an unused backup code, which
 * is then spent. Returns false for anything else.
 */
export async function checkSecondFactor(ctx: AppContext, tx: Tx, user: UserRow, code: string): Promise<boolean> {
  const trimmed = code.replace(/\s+/g, '');
  if (/^\d{6}$/.test(trimmed) && user.totp_secret_enc) {
    const secret = ctx.box.open(user.totp_secret_enc, `totp:${user.id}`);
    // One clock reading for both: a step boundary between two readings would record the wrong step.
    const now = Date.now();
    const delta = totpFor(secret).validate({ token: trimmed, timestamp: now, window: 1 });
    if (delta === null) return false;
    const step = Math.floor(now / 1000 / TOTP_PERIOD) + delta;
    if (user.totp_last_step !== null && step <= Number(user.totp_last_step)) return false;
    await tx.updateTable('users').set({ totp_last_step: step }).where('id', '=', user.id).execute();
    return true;
  }
  const codes = await tx.selectFrom('backup_codes').select(['id', 'code_hash']).where('user_id', '=', user.id).where('used_at', 'is', null).execute();
  const normalized = trimmed.toLowerCase().replace(/-/g, '');
  for (const c of codes) {
    if (await verifyPassword(c.code_hash, normalized)) {
      await tx.updateTable('backup_codes').set({ used_at: new Date() }).where('id', '=', c.id).where('used_at', 'is', null).execute();
      return true;
    }
  }
  return false;
}
