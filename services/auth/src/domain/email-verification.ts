import { AppError } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as uq from '../db/queries/users.js';
import { consumeActionToken, createActionToken } from './action-tokens.js';
import type { ClientMeta } from './sessions.js';

const VERIFY_TTL_SECONDS = 24 * 3600;

/** Mails a link that proves the address belongs to the user (the app's /verify-email page posts the token back). */
export async function sendEmailVerification(ctx: AppContext, user: Pick<uq.UserRow, 'id' | 'email' | 'username' | 'email_verified_at'>): Promise<void> {
  if (!user.email || user.email_verified_at) return;
  const token = await ctx.db.transaction().execute((tx) => createActionToken(ctx, tx, user.id, 'email_verify', VERIFY_TTL_SECONDS, user.email));
  // Appended to the base URL's path: `new URL('/verify-email', base)` would drop a base path such as /app.
  const url = new URL(ctx.config.AUTH_PUBLIC_URL);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/verify-email`;
  url.searchParams.set('token', token);
  const link = url.toString();
  await ctx.mailer.send({
    to: user.email,
    subject: 'Confirm your email address',
    text: `Hello ${user.username},\n\nconfirm that this address is yours:\n\n${link}\n\nThe link works once, for 24 hours. If you did not create a Nova account, ignore this mail.\n`,
  });
}

export async function requestEmailVerification(ctx: AppContext, userId: string): Promise<void> {
  const user = await uq.findById(ctx.db, userId);
  if (!user) throw new AppError('NOT_FOUND', 'account not found');
  if (!user.email) throw new AppError('PRECONDITION_FAILED', 'this account has no email address');
  if (user.email_verified_at) throw new AppError('CONFLICT', 'this email address is already verified');
  await sendEmailVerification(ctx, user);
}

/** Marks the address verified, if the token is good and the account still has that address. */
export async function confirmEmailVerification(ctx: AppContext, token: string, meta: ClientMeta): Promise<void> {
  await ctx.db.transaction().execute(async (tx) => {
    const { userId, email } = await consumeActionToken(ctx, tx, token, 'email_verify');
    const user = await uq.lockById(tx, userId);
    if (!user || !email || user.email_normalized !== uq.normalizeEmail(email)) {
      throw new AppError('VALIDATION_FAILED', 'this link is invalid, expired or already used', { details: { field: 'token' } });
    }
    if (user.email_verified_at) return;
    await uq.markEmailVerified(tx, userId);
    await ctx.outbox.add(tx, { aggregate: 'user', action: 'email-verified', type: 'UserEmailVerified', entityId: userId, data: { user_id: userId }, correlationId: meta.correlationId });
  });
}
