import { AppError } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as uq from '../db/queries/users.js';
import { toPublicUser, type PublicUser } from '../domain/accounts.js';
import { startSession, type ClientMeta } from '../domain/sessions.js';
import type { TokenPair } from '../domain/tokens.js';
import { checkSecondFactor } from '../domain/two-factor-check.js';
import { returnSecondFactor, takeSecondFactor } from './state.js';

/**
 * Finishes an OAuth sign-in into an account with 2FA: the ticket from the 401 TOTP_REQUIRED plus a TOTP or
 * backup code. Wrong codes count towards the account lockout like wrong passwords do, and a ticket
 * survives at most five of them (then the sign-in starts over at the provider).
 */
export async function completeSecondFactor(ctx: AppContext, ticket: string, code: string, meta: ClientMeta): Promise<{ user: PublicUser; tokens: TokenPair }> {
  const pending = await takeSecondFactor(ctx, ticket);
  const outcome = await ctx.db.transaction().execute(async (tx) => {
    const user = await uq.lockById(tx, pending.userId);
    if (!user) return { error: new AppError('UNAUTHENTICATED', 'this sign-in has expired or was already completed; start again'), retry: false };
    if (user.locked_until && user.locked_until > new Date()) {
      const retryAfter = Math.ceil((user.locked_until.getTime() - Date.now()) / 1000);
      const error = new AppError('ACCOUNT_LOCKED', 'too many failed logins; try again later', { headers: { 'Retry-After': String(retryAfter) }, details: { retry_after_seconds: retryAfter } });
      return { error, retry: false };
    }
    // 2FA switched off since the callback: the provider's word is all the account asks for now.
    if (user.totp_enabled_at && !(await checkSecondFactor(ctx, tx, user, code))) {
      await uq.recordFailedLogin(tx, user.id, ctx.config.AUTH_LOCKOUT_THRESHOLD, ctx.config.AUTH_LOCKOUT_SECONDS);
      return { error: new AppError('INVALID_CREDENTIALS', 'invalid two-factor code'), retry: true };
    }
    await uq.recordSuccessfulLogin(tx, user.id);
    return { user, tokens: await startSession(ctx, tx, user, meta) };
  });
  if ('error' in outcome) {
    if (outcome.retry && !(await returnSecondFactor(ctx, ticket, pending))) {
      throw new AppError('UNAUTHENTICATED', 'too many wrong codes for this sign-in; start again', { details: { field: 'ticket' } });
    }
    throw outcome.error;
  }
  return { user: toPublicUser(outcome.user), tokens: outcome.tokens };
}
