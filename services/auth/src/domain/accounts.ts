import { AppError, newId, type Role } from '@nova/platform';
import type { AppContext } from '../context.js';
import { burnPasswordCheck, checkPasswordPolicy, hashPassword, verifyPassword } from '../crypto/passwords.js';
import * as uq from '../db/queries/users.js';
import { sendEmailVerification } from './email-verification.js';
import { revokeAllSessions, revokeInTx, startSession, type ClientMeta } from './sessions.js';
import type { TokenPair } from './tokens.js';
import { checkSecondFactor } from './two-factor-check.js';

export interface PublicUser {
  id: string;
  email: string | null;
  email_verified: boolean;
  username: string;
  role: Role;
  two_factor_enabled: boolean;
  created_at: string;
}

export function toPublicUser(u: uq.UserRow): PublicUser {
  return {
    id: u.id,
    email: u.email,
    email_verified: u.email_verified_at !== null,
    username: u.username,
    role: u.role,
    two_factor_enabled: u.totp_enabled_at !== null,
    created_at: u.created_at.toISOString(),
  };
}

export const USERNAME_PATTERN = '^[A-Za-z0-9_]{3,32}$';

/** Creates an account with a password, opens its first session, and sends the verification mail. */
export async function register(ctx: AppContext, input: { email: string; username: string; password: string }, meta: ClientMeta): Promise<{ user: PublicUser; tokens: TokenPair }> {
  const email = input.email.trim();
  checkPasswordPolicy(input.password, { username: input.username, email });
  const passwordHash = await hashPassword(input.password);
  const result = await ctx.db.transaction().execute(async (tx) => {
    const id = newId();
    const inserted = await uq.insertUser(tx, { id, email, username: input.username, password_hash: passwordHash });
    if (!inserted.ok) {
      throw new AppError('CONFLICT', `this ${inserted.taken} is already registered`, { details: { field: inserted.taken } });
    }
    const user = (await uq.findById(tx, id))!;
    await ctx.outbox.add(tx, {
      aggregate: 'user',
      action: 'registered',
      type: 'UserRegistered',
      entityId: id,
      data: { user_id: id, username: user.username, email_verified: false, method: 'password' },
      correlationId: meta.correlationId,
    });
    const tokens = await startSession(ctx, tx, user, meta);
    return { user, tokens };
  });
  await sendEmailVerification(ctx, result.user).catch((err: unknown) => ctx.logger.error({ err, user_id: result.user.id }, 'could not send the verification mail'));
  return { user: toPublicUser(result.user), tokens: result.tokens };
}

/**
 * Password login. An unknown account and a wrong password get the same answer after the same work; five
 * failures lock the account for 15 minutes; with 2FA on, a valid code is needed before any token is issued.
 */
export async function login(ctx: AppContext, input: { identifier: string; password: string; totp_code?: string | undefined }, meta: ClientMeta): Promise<{ user: PublicUser; tokens: TokenPair }> {
  const invalid = () => new AppError('INVALID_CREDENTIALS', 'invalid credentials');
  const found = await uq.findByIdentifier(ctx.db, input.identifier);
  if (!found?.password_hash) {
    await burnPasswordCheck(input.password);
    throw invalid();
  }
  const passwordOk = await verifyPassword(found.password_hash, input.password);
  const outcome = await ctx.db.transaction().execute(async (tx) => {
    const user = await uq.lockById(tx, found.id);
    if (!user) return { error: invalid() };
    if (user.locked_until && user.locked_until > new Date()) {
      const retryAfter = Math.ceil((user.locked_until.getTime() - Date.now()) / 1000);
      return { error: new AppError('ACCOUNT_LOCKED', 'too many failed logins; try again later', { headers: { 'Retry-After': String(retryAfter) }, details: { retry_after_seconds: retryAfter } }) };
    }
    if (!passwordOk) {
      await uq.recordFailedLogin(tx, user.id, ctx.config.AUTH_LOCKOUT_THRESHOLD, ctx.config.AUTH_LOCKOUT_SECONDS);
      return { error: invalid() };
    }
    if (user.totp_enabled_at) {
      if (!input.totp_code) return { error: new AppError('TOTP_REQUIRED', 'a two-factor code is required') };
      if (!(await checkSecondFactor(ctx, tx, user, input.totp_code))) {
        await uq.recordFailedLogin(tx, user.id, ctx.config.AUTH_LOCKOUT_THRESHOLD, ctx.config.AUTH_LOCKOUT_SECONDS);
        return { error: invalid() };
      }
    }
    await uq.recordSuccessfulLogin(tx, user.id);
    return { user, tokens: await startSession(ctx, tx, user, meta) };
  });
  if ('error' in outcome) throw outcome.error;
  return { user: toPublicUser(outcome.user), tokens: outcome.tokens };
}

export async function me(ctx: AppContext, userId: string): Promise<PublicUser> {
  const user = await uq.findById(ctx.db, userId);
  if (!user) throw new AppError('NOT_FOUND', 'account not found');
  return toPublicUser(user);
}

export async function logout(ctx: AppContext, userId: string, sessionId: string, meta: ClientMeta): Promise<void> {
  await ctx.db.transaction().execute((tx) => revokeInTx(ctx, tx, userId, [sessionId], 'logout', meta));
}

export async function logoutAll(ctx: AppContext, userId: string, meta: ClientMeta): Promise<void> {
  await ctx.db.transaction().execute((tx) => revokeAllSessions(ctx, tx, userId, 'logout_all', meta));
}

/** Soft-deletes the caller's account, revokes every session and tells the other services. */
export async function deleteAccount(ctx: AppContext, userId: string, meta: ClientMeta): Promise<void> {
  await ctx.db.transaction().execute(async (tx) => {
    const user = await uq.lockById(tx, userId);
    if (!user) throw new AppError('NOT_FOUND', 'account not found');
    await uq.softDelete(tx, userId, userId);
    await tx.updateTable('oauth_identities').set({ deleted_at: new Date(), deleted_by: userId }).where('user_id', '=', userId).where('deleted_at', 'is', null).execute();
    await revokeAllSessions(ctx, tx, userId, 'account_deleted', meta);
    await ctx.outbox.add(tx, { aggregate: 'user', action: 'deleted', type: 'UserDeleted', entityId: userId, data: { user_id: userId, deleted_by: userId }, correlationId: meta.correlationId });
  });
}

/** Grants a role (the `nova users role` command and, later, admins). */
export async function setRole(ctx: AppContext, userIdOrName: string, role: Role, actor: string | null): Promise<PublicUser> {
  return ctx.db.transaction().execute(async (tx) => {
    const user = /^[0-9a-f-]{36}$/i.test(userIdOrName) ? await uq.lockById(tx, userIdOrName) : await uq.findByIdentifier(tx, userIdOrName);
    if (!user) throw new AppError('NOT_FOUND', 'account not found');
    if (user.role === role) return toPublicUser(user);
    await uq.setRole(tx, user.id, role);
    await ctx.outbox.add(tx, { aggregate: 'user', action: 'role-changed', type: 'UserRoleChanged', entityId: user.id, data: { user_id: user.id, from: user.role, to: role, changed_by: actor } });
    // Tokens carry the role: end the user's sessions so the next login carries the new one.
    await revokeAllSessions(ctx, tx, user.id, 'role_changed', {});
    return toPublicUser({ ...user, role });
  });
}
