import { AppError, newId, type Tx } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as sq from '../db/queries/sessions.js';
import * as uq from '../db/queries/users.js';
import { toPublicUser, type PublicUser } from '../domain/accounts.js';
import { sendEmailVerification } from '../domain/email-verification.js';
import { startSession, type ClientMeta } from '../domain/sessions.js';
import type { TokenPair } from '../domain/tokens.js';
import * as q from './queries.js';
import { saveSecondFactor, type PendingFlow } from './state.js';
import type { OAuthProviderName, ProviderProfile } from './types.js';
import { usernameBase, usernameCandidate } from './username.js';

/**
 * - `signed_in`: the identity was already linked; its account is logged in;
 * - `linked_and_signed_in`: the provider vouched for an email that a verified account holds: linked, logged in;
 * - `registered`: a new account was created for the identity and logged in;
 * - `linked`: a logged-in user linked the identity to their account (no new session).
 */
export type OAuthOutcome = 'signed_in' | 'linked_and_signed_in' | 'registered' | 'linked';

export interface PublicIdentity {
  id: string;
  provider: OAuthProviderName;
  email: string | null;
  email_verified: boolean;
  linked_at: string;
  last_used_at: string;
}

export interface OAuthSignInResult {
  outcome: OAuthOutcome;
  user: PublicUser;
  identity: PublicIdentity;
  tokens?: TokenPair;
}

export function toPublicIdentity(i: q.IdentityRow): PublicIdentity {
  return { id: i.id, provider: i.provider, email: i.email, email_verified: i.email_verified, linked_at: i.created_at.toISOString(), last_used_at: i.updated_at.toISOString() };
}

const PROVIDER_LABEL: Record<OAuthProviderName, string> = { google: 'Google', apple: 'Apple', facebook: 'Facebook', wechat: 'WeChat' };

interface Resolved {
  outcome: OAuthOutcome;
  user: uq.UserRow;
  identity: q.IdentityRow;
  tokens?: TokenPair;
  secondFactor?: boolean;
}

/**
 * What an identity the provider just vouched for means here, in one transaction:
 * 1. already linked → that account; refused while the account it was linked to is deleted but not yet
 *    released (the same retention that keeps its email and username from being registered again);
 * 2. a link flow → the logged-in user's account (409 if the identity is someone else's);
 * 3. an email that the provider verified and that a live account has also verified → linked to it;
 *    an email an account has, but which either side has not verified → 409, never linked: whoever holds
 *    the account logs in and links from the settings (otherwise an account pre-registered with someone
 *    else's address, or a provider account with an unproven one, would take the other over);
 * 4. otherwise a new password-less account (UserRegistered in the same transaction).
 * Accounts with 2FA get no tokens yet: 401 TOTP_REQUIRED with a ticket for POST /oauth/2fa.
 */
export async function signInWithProfile(ctx: AppContext, profile: ProviderProfile, flow: PendingFlow, meta: ClientMeta): Promise<OAuthSignInResult> {
  const resolved = await withUniqueRetry(() => ctx.db.transaction().execute((tx) => resolve(ctx, tx, profile, flow, meta)));
  if (resolved.secondFactor) {
    const { ticket, expiresIn } = await saveSecondFactor(ctx, { userId: resolved.user.id, provider: profile.provider });
    throw new AppError('TOTP_REQUIRED', 'a two-factor code is required to finish signing in', { details: { oauth_ticket: ticket, expires_in: expiresIn, provider: profile.provider } });
  }
  if (resolved.outcome === 'registered' && resolved.user.email && !resolved.user.email_verified_at) {
    await sendEmailVerification(ctx, resolved.user).catch((err: unknown) => ctx.logger.error({ err, user_id: resolved.user.id }, 'could not send the verification mail'));
  }
  return {
    outcome: resolved.outcome,
    user: toPublicUser(resolved.user),
    identity: toPublicIdentity(resolved.identity),
    ...(resolved.tokens ? { tokens: resolved.tokens } : {}),
  };
}

async function resolve(ctx: AppContext, tx: Tx, profile: ProviderProfile, flow: PendingFlow, meta: ClientMeta): Promise<Resolved> {
  const label = PROVIDER_LABEL[profile.provider];
  const existing = await q.lockIdentityBySubject(tx, profile.provider, [profile.subject, ...profile.formerSubjects]);

  if (flow.link) {
    const user = await uq.lockById(tx, flow.link.userId);
    const session = await sq.findSession(tx, flow.link.sessionId);
    if (!user || !session || session.user_id !== user.id || session.revoked_at || session.expires_at <= new Date()) {
      throw new AppError('UNAUTHENTICATED', 'your session has ended; log in again to link an account');
    }
    if (existing && existing.user_id !== user.id) {
      throw new AppError('CONFLICT', `this ${label} account is already linked to another Nova account`, { details: { provider: profile.provider, reason: 'identity_linked_elsewhere' } });
    }
    const identity = existing ? await refresh(ctx, tx, existing, profile) : await link(ctx, tx, user, profile);
    return { outcome: 'linked', user, identity };
  }

  if (existing) {
    const user = await uq.lockById(tx, existing.user_id);
    if (!user) throw new AppError('FORBIDDEN', `the account linked to this ${label} sign-in has been deleted`, { details: { provider: profile.provider, reason: 'account_deleted' } });
    const identity = await refresh(ctx, tx, existing, profile);
    return withSession(ctx, tx, { outcome: 'signed_in', user, identity }, meta);
  }

  if (await q.deletedAccountHolds(tx, profile.provider, [profile.subject, ...profile.formerSubjects])) {
    throw new AppError('FORBIDDEN', `the account linked to this ${label} sign-in has been deleted`, { details: { provider: profile.provider, reason: 'account_deleted' } });
  }

  if (profile.email) {
    const holder = await uq.findByEmail(tx, profile.email);
    if (holder) {
      const reason = !profile.emailVerified ? 'email_not_verified_by_provider' : !holder.email_verified_at ? 'account_email_not_verified' : null;
      if (reason) {
        throw new AppError('CONFLICT', `an account with this email address already exists: log in to it and link your ${label} account from the account settings`, {
          details: { provider: profile.provider, reason, action: 'login_and_link' },
        });
      }
      const user = await uq.lockById(tx, holder.id);
      if (!user) throw new AppError('CONFLICT', 'the account changed meanwhile; try again');
      const identity = await link(ctx, tx, user, profile);
      return withSession(ctx, tx, { outcome: 'linked_and_signed_in', user, identity }, meta);
    }
  }

  const user = await createAccount(ctx, tx, profile);
  const identity = await link(ctx, tx, user, profile);
  await ctx.outbox.add(tx, {
    aggregate: 'user',
    action: 'registered',
    type: 'UserRegistered',
    entityId: user.id,
    data: { user_id: user.id, username: user.username, email_verified: user.email_verified_at !== null, method: profile.provider },
    correlationId: meta.correlationId,
  });
  return withSession(ctx, tx, { outcome: 'registered', user, identity }, meta);
}

async function withSession(ctx: AppContext, tx: Tx, r: Resolved, meta: ClientMeta): Promise<Resolved> {
  if (r.user.totp_enabled_at) return { ...r, secondFactor: true };
  return { ...r, tokens: await startSession(ctx, tx, r.user, meta) };
}

/** Provider tokens are sealed with the identity's id in the context: a sealed value only opens on its own row. */
function sealedValues(ctx: AppContext, id: string, profile: ProviderProfile, previous?: q.IdentityRow): q.IdentityValues {
  return {
    provider_subject: profile.subject,
    email: profile.email,
    email_verified: profile.emailVerified,
    access_token_enc: profile.accessToken ? ctx.box.seal(profile.accessToken, `oauth:${id}:access`) : (previous?.access_token_enc ?? null),
    // Providers often issue a refresh token on the first consent only: keep the one we have.
    refresh_token_enc: profile.refreshToken ? ctx.box.seal(profile.refreshToken, `oauth:${id}:refresh`) : (previous?.refresh_token_enc ?? null),
  };
}

async function refresh(ctx: AppContext, tx: Tx, identity: q.IdentityRow, profile: ProviderProfile): Promise<q.IdentityRow> {
  const values = sealedValues(ctx, identity.id, profile, identity);
  await q.updateIdentity(tx, identity.id, values);
  return { ...identity, ...values, updated_at: new Date() };
}

async function link(ctx: AppContext, tx: Tx, user: uq.UserRow, profile: ProviderProfile): Promise<q.IdentityRow> {
  const other = await q.findUserIdentity(tx, user.id, profile.provider);
  if (other) {
    throw new AppError('CONFLICT', `this account is already linked to a different ${PROVIDER_LABEL[profile.provider]} account; unlink that one first`, {
      details: { provider: profile.provider, reason: 'provider_already_linked' },
    });
  }
  const id = newId();
  const values = sealedValues(ctx, id, profile);
  await q.insertIdentity(tx, { id, provider: profile.provider, user_id: user.id, ...values });
  const now = new Date();
  return { id, provider: profile.provider, user_id: user.id, ...values, created_at: now, updated_at: now, deleted_at: null, deleted_by: null };
}

const USERNAME_ATTEMPTS = 12;

/**
 * A password-less account. The email is kept when the provider gave one (verified if the provider says
 * so), unless an account deleted within the retention period still holds it: then the account starts
 * without an email rather than failing the sign-in.
 */
async function createAccount(ctx: AppContext, tx: Tx, profile: ProviderProfile): Promise<uq.UserRow> {
  const base = usernameBase(profile.name, profile.email, profile.provider);
  let email = profile.email;
  if (email && (await q.emailHeld(tx, email))) email = null;
  for (let attempt = 0; attempt < USERNAME_ATTEMPTS; attempt++) {
    const username = usernameCandidate(base, attempt);
    if (await uq.usernameTaken(tx, username)) continue;
    const user = await q.insertOAuthUser(tx, { id: newId(), username, email, emailVerified: profile.emailVerified });
    if (user) return user;
    if (email && (await q.emailHeld(tx, email))) email = null;
  }
  ctx.logger.error({ base }, 'no free username found for a new OAuth account');
  throw new AppError('INTERNAL', 'could not choose a username');
}

/**
 * Two callbacks for the same new identity racing: the loser's insert hits the (provider, subject) unique
 * index and its transaction rolls back; run once more, and it finds the identity the winner linked.
 */
async function withUniqueRetry<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if ((err as { code?: string; constraint?: string }).constraint === 'oauth_identities_subject_unique') return fn();
    throw err;
  }
}
