import { AppError, type Tx } from '@nova/platform';
import type { AppContext } from '../context.js';
import { checkPasswordPolicy, hashPassword, verifyPassword } from '../crypto/passwords.js';
import { tokenHash } from '../crypto/secret-box.js';
import * as uq from '../db/queries/users.js';
import { consumeActionToken, createActionToken } from './action-tokens.js';
import { revokeAllSessions, type ClientMeta } from './sessions.js';

export const RESET_TTL_SECONDS = 30 * 60;
/** A new reset mail for the same account is sent at most this often (the previous link stays valid meanwhile). */
export const RESET_RESEND_SECONDS = 60;

/** ACCOUNT_LOCKED while the login lockout is in force: it guards every password check, not only login. */
export function lockedError(user: Pick<uq.UserRow, 'locked_until'>): AppError | null {
  if (!user.locked_until || user.locked_until <= new Date()) return null;
  const retryAfter = Math.ceil((user.locked_until.getTime() - Date.now()) / 1000);
  return new AppError('ACCOUNT_LOCKED', 'too many failed attempts; try again later', { headers: { 'Retry-After': String(retryAfter) }, details: { retry_after_seconds: retryAfter } });
}

/**
 * Changes the caller's password: the current one must be given (a wrong one counts towards the lockout),
 * the new one must pass the policy. Every other session ends; the caller's own stays.
 */
export async function changePassword(ctx: AppContext, who: { userId: string; sessionId: string }, input: { old_password: string; new_password: string }, meta: ClientMeta): Promise<void> {
  const found = await uq.findById(ctx.db, who.userId);
  if (!found) throw new AppError('NOT_FOUND', 'account not found');
  if (!found.password_hash) {
    throw new AppError('PRECONDITION_FAILED', 'this account has no password yet: set one through a password reset (POST /api/v1/auth/password/reset/request)');
  }
  const locked = lockedError(found);
  if (locked) throw locked;
  checkPasswordPolicy(input.new_password, { username: found.username, email: found.email });
  if (input.new_password === input.old_password) {
    throw new AppError('VALIDATION_FAILED', 'the new password must differ from the current one', { details: { field: 'new_password' } });
  }
  const oldOk = await verifyPassword(found.password_hash, input.old_password);
  const newHash = oldOk ? await hashPassword(input.new_password) : null;
  const refusal = await ctx.db.transaction().execute(async (tx) => {
    const user = await uq.lockById(tx, who.userId);
    if (!user) return new AppError('NOT_FOUND', 'account not found');
    const lockedNow = lockedError(user);
    if (lockedNow) return lockedNow;
    // A concurrent change since the check makes the given password stale: refuse rather than overwrite.
    if (!newHash || user.password_hash !== found.password_hash) {
      await uq.recordFailedLogin(tx, user.id, ctx.config.AUTH_LOCKOUT_THRESHOLD, ctx.config.AUTH_LOCKOUT_SECONDS);
      return new AppError('VALIDATION_FAILED', 'the current password is wrong', { details: { field: 'old_password' } });
    }
    await uq.setPassword(tx, user.id, newHash);
    await uq.recordSuccessfulLogin(tx, user.id);
    await revokeAllSessions(ctx, tx, user.id, 'password_changed', meta, who.sessionId);
    await passwordChangedEvent(ctx, tx, user.id, 'change', meta);
    return null;
  });
  if (refusal) throw refusal;
  notifyPasswordChanged(ctx, found, 'change');
}

// Reset mail goes out after the 202 is sent, so a known and an unknown address answer alike and as fast.
const inFlight = new WeakMap<AppContext, Set<Promise<void>>>();

/**
 * Starts a password reset for whoever owns `email`, in the background, and returns at once: the caller
 * learns nothing about whether the account exists. Failures are logged.
 */
export function requestPasswordReset(ctx: AppContext, email: string, meta: ClientMeta): void {
  const tasks = inFlight.get(ctx) ?? new Set<Promise<void>>();
  inFlight.set(ctx, tasks);
  const task: Promise<void> = sendPasswordReset(ctx, email, meta)
    .catch((err: unknown) => ctx.logger.error({ err }, 'could not send a password reset mail'))
    .finally(() => tasks.delete(task));
  tasks.add(task);
}

/** Resolves once the reset mails already requested are sent (or failed): for shutdown, before the mailer closes. */
export async function settlePasswordResets(ctx: AppContext): Promise<void> {
  await Promise.allSettled([...(inFlight.get(ctx) ?? [])]);
}

/**
 * The work behind a reset request: a single-use link valid 30 minutes, mailed to the account's address.
 * Accounts without a password (OAuth only) get one too: that is how they set a password. At most one
 * mail per account per minute, so the endpoint cannot be used to flood someone's inbox.
 */
export async function sendPasswordReset(ctx: AppContext, email: string, meta: ClientMeta): Promise<void> {
  const found = await uq.findByEmail(ctx.db, email);
  if (!found?.email) {
    ctx.logger.info({ correlation_id: meta.correlationId }, 'password reset requested for an unknown address: nothing sent');
    return;
  }
  const token = await ctx.db.transaction().execute(async (tx) => {
    // The row lock serialises concurrent requests for one account, so the resend interval holds.
    const user = await uq.lockById(tx, found.id);
    if (!user?.email) return null;
    const recent = await tx
      .selectFrom('action_tokens')
      .select('id')
      .where('user_id', '=', user.id)
      .where('purpose', '=', 'password_reset')
      .where('used_at', 'is', null)
      .where('created_at', '>', new Date(Date.now() - RESET_RESEND_SECONDS * 1000))
      .executeTakeFirst();
    if (recent) return null;
    return { value: await createActionToken(ctx, tx, user.id, 'password_reset', RESET_TTL_SECONDS, user.email), user };
  });
  if (!token) {
    ctx.logger.info({ user_id: found.id }, 'password reset requested again within the resend interval: nothing sent');
    return;
  }
  const link = publicLink(ctx, '/reset-password', token.value);
  await ctx.mailer.send({
    to: token.user.email!,
    subject: 'Reset your Nova password',
    text:
      `Hello ${token.user.username},\n\nsomeone (hopefully you) asked to reset the password of your Nova account. Choose a new one here:\n\n${link}\n\n` +
      `The link works once, for 30 minutes. If you did not ask for this, ignore this mail: your password stays as it is.\n`,
  });
}

/**
 * Sets a new password with a token from a reset mail (single use, 30 minutes). Clears the lockout and
 * ends every session, this device's included: whoever knew the old password is logged out. A password
 * that fails the policy leaves the token unspent, so the user can try another.
 */
export async function confirmPasswordReset(ctx: AppContext, token: string, newPassword: string, meta: ClientMeta): Promise<void> {
  const pending = await ctx.db
    .selectFrom('action_tokens')
    .select('user_id')
    .where('token_hash', '=', tokenHash(token))
    .where('purpose', '=', 'password_reset')
    .where('used_at', 'is', null)
    .where('expires_at', '>', new Date())
    .executeTakeFirst();
  const owner = pending ? await uq.findById(ctx.db, pending.user_id) : undefined;
  if (!owner) throw invalidLink(ctx);
  checkPasswordPolicy(newPassword, { username: owner.username, email: owner.email });
  const hash = await hashPassword(newPassword);
  const user = await ctx.db.transaction().execute(async (tx) => {
    // The atomic spend is what makes the link single use: of two concurrent confirms, one gets here.
    const { userId, email } = await consumeActionToken(ctx, tx, token, 'password_reset');
    const locked = await uq.lockById(tx, userId);
    // The link was mailed to one address: it is no good once the account has another.
    if (!locked || !email || locked.email_normalized !== uq.normalizeEmail(email)) throw invalidLink(ctx);
    await uq.setPassword(tx, userId, hash);
    await uq.recordSuccessfulLogin(tx, userId);
    await revokeAllSessions(ctx, tx, userId, 'password_reset', meta);
    await passwordChangedEvent(ctx, tx, userId, 'reset', meta);
    return locked;
  });
  notifyPasswordChanged(ctx, user, 'reset');
}

function invalidLink(ctx: AppContext): AppError {
  ctx.logger.info({ purpose: 'password_reset' }, 'action token refused');
  return new AppError('VALIDATION_FAILED', 'this link is invalid, expired or already used', { details: { field: 'token' } });
}

async function passwordChangedEvent(ctx: AppContext, tx: Tx, userId: string, method: 'change' | 'reset', meta: ClientMeta): Promise<void> {
  await ctx.outbox.add(tx, { aggregate: 'user', action: 'password-changed', type: 'PasswordChanged', entityId: userId, data: { user_id: userId, method }, correlationId: meta.correlationId });
}

/** Tells the owner, so a change they did not make does not go unnoticed. Best effort, after the commit. */
function notifyPasswordChanged(ctx: AppContext, user: Pick<uq.UserRow, 'id' | 'email' | 'username'>, method: 'change' | 'reset'): void {
  if (!user.email) return;
  const how = method === 'change' ? 'was just changed, and your other sessions were ended' : 'was just reset with a link sent to this address, and every session was ended';
  ctx.mailer
    .send({
      to: user.email,
      subject: 'Your Nova password was changed',
      text: `Hello ${user.username},\n\nthe password of your Nova account ${how}.\n\nIf this was not you, reset your password at once from the Nova login screen ("Forgot password").\n`,
    })
    .catch((err: unknown) => ctx.logger.error({ err, user_id: user.id }, 'could not send the password-changed notice'));
}

/** A link under AUTH_PUBLIC_URL, keeping any path the base URL has. */
function publicLink(ctx: AppContext, path: string, token: string): string {
  const url = new URL(ctx.config.AUTH_PUBLIC_URL);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  url.searchParams.set('token', token);
  return url.toString();
}
