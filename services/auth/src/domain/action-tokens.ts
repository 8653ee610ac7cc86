import { AppError, newId, type Tx } from '@nova/platform';
import type { AppContext } from '../context.js';
import { randomToken, tokenHash } from '../crypto/secret-box.js';

export type ActionPurpose = 'password_reset' | 'email_verify';

/** A single-use token for a link sent by mail; only its hash is stored. Earlier unused ones of the same purpose stop working. */
export async function createActionToken(ctx: AppContext, tx: Tx, userId: string, purpose: ActionPurpose, ttlSeconds: number, email: string | null): Promise<string> {
  const token = randomToken();
  await tx.updateTable('action_tokens').set({ used_at: new Date() }).where('user_id', '=', userId).where('purpose', '=', purpose).where('used_at', 'is', null).execute();
  await tx
    .insertInto('action_tokens')
    .values({ id: newId(), user_id: userId, purpose, token_hash: tokenHash(token), email, expires_at: new Date(Date.now() + ttlSeconds * 1000) })
    .execute();
  return token;
}

/** Spends a token: valid, unexpired, unused and of this purpose, or a 400 that says no more than that. */
export async function consumeActionToken(ctx: AppContext, tx: Tx, token: string, purpose: ActionPurpose): Promise<{ userId: string; email: string | null }> {
  const row = await tx
    .updateTable('action_tokens')
    .set({ used_at: new Date() })
    .where('token_hash', '=', tokenHash(token))
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', new Date())
    .returning(['user_id', 'email'])
    .executeTakeFirst();
  if (!row) {
    ctx.logger.info({ purpose }, 'action token refused');
    throw new AppError('VALIDATION_FAILED', 'this link is invalid, expired or already used', { details: { field: 'token' } });
  }
  return { userId: row.user_id, email: row.email };
}
