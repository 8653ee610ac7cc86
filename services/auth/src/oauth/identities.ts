import { AppError } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as uq from '../db/queries/users.js';
import * as q from './queries.js';
import { toPublicIdentity, type PublicIdentity } from './sign-in.js';
import { isOAuthProviderName } from './types.js';

/** The providers linked to the caller's account. */
export async function listIdentities(ctx: AppContext, userId: string): Promise<PublicIdentity[]> {
  return (await q.listUserIdentities(ctx.db, userId)).map(toPublicIdentity);
}

/**
 * Unlinks a provider from the caller's account. An account without a password must keep at least one
 * linked provider: that is its only way to log in (409 until a password is set or another is linked).
 * The user row is locked so two concurrent unlinks cannot both pass that check.
 */
export async function unlinkIdentity(ctx: AppContext, userId: string, provider: string): Promise<void> {
  if (!isOAuthProviderName(provider)) throw new AppError('NOT_FOUND', 'unknown OAuth provider', { details: { provider } });
  await ctx.db.transaction().execute(async (tx) => {
    const user = await uq.lockById(tx, userId);
    if (!user) throw new AppError('NOT_FOUND', 'account not found');
    const identities = await q.listUserIdentities(tx, userId);
    const target = identities.find((i) => i.provider === provider);
    if (!target) throw new AppError('NOT_FOUND', `no ${provider} account is linked`, { details: { provider } });
    if (!user.password_hash && identities.length === 1) {
      throw new AppError('CONFLICT', 'this is the only way to log in to this account: set a password or link another provider before unlinking it', {
        details: { provider, reason: 'last_login_method' },
      });
    }
    await q.softDeleteIdentity(tx, target.id, userId);
  });
}
