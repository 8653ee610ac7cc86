import { AppError } from '@nova/platform';
import type { AppContext } from '../context.js';
import type { Account } from '../clients/auth-accounts.js';
import * as pq from '../db/queries/profiles.js';
import { convertRequestsToFollows, requesterIds } from '../db/queries/pending-requests.js';
import { blockedEitherWay } from '../db/queries/relations.js';
import { visibleProfile } from './visibility.js';
import { withDeadlockRetry } from './retry.js';

/** A profile as the API shows it. Never an email: only the owner's own view adds one ({@link MeView}). */
export interface ProfileView {
  id: string;
  username: string;
  display_name: string | null;
  bio: string | null;
  avatar_media_id: string | null;
  cover_media_id: string | null;
  location: string | null;
  website: string | null;
  is_private: boolean;
  follower_count: number;
  following_count: number;
  post_count: number;
  created_at: string;
}

export interface MeView extends ProfileView {
  /** The account's email (null: it has none); absent when the auth service could not be asked. */
  email?: string | null;
}

export const PROFILE_LIMITS = { display_name: 64, bio: 300, location: 100, website: 200 } as const;

export function toProfile(row: pq.ProfileRow): ProfileView {
  return {
    id: row.id,
    username: row.username,
    display_name: row.display_name,
    bio: row.bio,
    avatar_media_id: row.avatar_media_id,
    cover_media_id: row.cover_media_id,
    location: row.location,
    website: row.website,
    is_private: row.is_private,
    follower_count: row.follower_count,
    following_count: row.following_count,
    post_count: row.post_count,
    created_at: row.created_at.toISOString(),
  };
}

const notFound = () => new AppError('NOT_FOUND', 'user not found');

/**
 * The caller's own live profile. A token can arrive before auth's UserRegistered has been consumed (a client
 * that registers and at once opens its profile): then the profile is created here from what auth says about
 * the account, exactly as the consumer would create it (the consumer's later insert does nothing). An account
 * auth does not know, or a profile already deleted, is 404; auth being unreachable at that moment is a 503.
 */
async function ownProfile(ctx: AppContext, userId: string): Promise<{ profile: pq.ProfileRow; account?: Account }> {
  const profile = await pq.findProfile(ctx.db, userId);
  if (profile) return { profile };
  if (await pq.findProfileAnyState(ctx.db, userId)) throw notFound();
  const account = await ctx.accounts.accountWithEmail(userId);
  if (!account) throw notFound();
  await ctx.db.transaction().execute((tx) => pq.createProfile(tx, { id: account.id, username: account.username }));
  const created = await pq.findProfile(ctx.db, userId);
  if (!created) throw notFound();
  ctx.logger.info({ user_id: userId }, 'profile created on first use, ahead of the UserRegistered event');
  return { profile: created, account };
}

/** Makes sure the caller has a profile (see {@link ownProfile}); used by every `/me` route. */
export async function ensureOwnProfile(ctx: AppContext, userId: string): Promise<pq.ProfileRow> {
  return (await ownProfile(ctx, userId.toLowerCase())).profile;
}

/**
 * The caller's profile with the account's email, which only auth holds. When auth cannot be asked the
 * profile is still answered, without `email` (a profile screen should not fail because of it); when auth
 * says the account no longer exists, the caller is told so (404), whatever the profile table still says.
 */
export async function getMe(ctx: AppContext, callerId: string): Promise<MeView> {
  const userId = callerId.toLowerCase();
  const own = await ownProfile(ctx, userId);
  let account: Account | undefined | null = own.account;
  if (!account) {
    try {
      account = await ctx.accounts.accountWithEmail(userId);
    } catch (err) {
      if (!(err instanceof AppError) || !err.isServerError) throw err;
      ctx.logger.warn({ err: err.message, code: err.code, user_id: userId }, 'auth could not be asked for the email; answering the profile without it');
      account = null;
    }
    if (account === undefined) throw notFound();
  }
  return { ...toProfile(own.profile), ...(account ? { email: account.email } : {}) };
}

/** A profile the viewer (if any) may see: 404 for missing, deleted or blocked either way. */
export async function getProfile(ctx: AppContext, viewerId: string | undefined, id: string): Promise<ProfileView> {
  return toProfile(await visibleProfile(ctx, viewerId?.toLowerCase(), id.toLowerCase()));
}

export async function getProfileByUsername(ctx: AppContext, viewer: string | undefined, username: string): Promise<ProfileView> {
  const viewerId = viewer?.toLowerCase();
  const profile = await pq.findByUsername(ctx.db, username);
  if (!profile || (viewerId && viewerId !== profile.id && (await blockedEitherWay(ctx.db, viewerId, profile.id)))) throw notFound();
  return toProfile(profile);
}

/** What `PATCH /users/me` may change; `null` clears a field. */
export interface ProfilePatch {
  display_name?: string | null;
  bio?: string | null;
  avatar_media_id?: string | null;
  cover_media_id?: string | null;
  location?: string | null;
  website?: string | null;
  is_private?: boolean;
}

const TEXT_FIELDS = ['display_name', 'bio', 'location', 'website'] as const;
const ID_FIELDS = ['avatar_media_id', 'cover_media_id'] as const;

/**
 * The patch as it will be stored: text trimmed, blank text meaning "clear", lengths and the website checked
 * (the HTTP schema checks them too; this is the rule, whoever calls).
 */
export function normalisePatch(patch: ProfilePatch): pq.ProfileChanges {
  const out: pq.ProfileChanges = {};
  for (const field of TEXT_FIELDS) {
    const value = patch[field];
    if (value === undefined) continue;
    const text = value === null ? null : value.trim();
    if (text !== null && text.length > 0 && [...text].length > PROFILE_LIMITS[field]) {
      throw new AppError('VALIDATION_FAILED', `${field} must be at most ${PROFILE_LIMITS[field]} characters`, { details: { field } });
    }
    out[field] = text === null || text.length === 0 ? null : text;
  }
  if (out.website) out.website = checkWebsite(out.website);
  for (const field of ID_FIELDS) {
    const value = patch[field];
    if (value !== undefined) out[field] = value === null ? null : value.toLowerCase();
  }
  if (patch.is_private !== undefined) out.is_private = patch.is_private;
  return out;
}

function checkWebsite(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AppError('VALIDATION_FAILED', 'website must be an http(s) URL', { details: { field: 'website' } });
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || url.username !== '' || url.password !== '') {
    throw new AppError('VALIDATION_FAILED', 'website must be an http(s) URL without credentials', { details: { field: 'website' } });
  }
  return value;
}

/**
 * Changes the caller's profile. Only fields whose value really changes are written and reported: one
 * `ProfileUpdated` event (in the same transaction) carries them with their new values; a patch that changes
 * nothing writes nothing and emits nothing.
 *
 * Turning a private account public accepts its pending follow requests in the same transaction: a public
 * account has no pending requests (anyone may follow it at once), and each requester asked to follow. Every
 * accepted request is announced like one accepted by hand (FollowRequestAccepted, then FollowCreated), and
 * the counters move by exactly the follows created. Turning a public account private keeps its followers.
 */
export async function updateMe(ctx: AppContext, callerId: string, patch: ProfilePatch, meta: { correlationId?: string | null } = {}): Promise<ProfileView> {
  const userId = callerId.toLowerCase();
  const wanted = normalisePatch(patch);
  await ensureOwnProfile(ctx, userId);
  return withDeadlockRetry(() =>
    ctx.db.transaction().execute(async (tx) => {
      // Going public touches the requesters' counters too: lock them with the owner, in id order.
      const lockIds = wanted.is_private === false ? [userId, ...(await requesterIds(tx, userId))] : [userId];
      const current = (await pq.lockProfiles(tx, lockIds)).find((p) => p.id === userId);
      if (!current) throw notFound();

      const changes: pq.ProfileChanges = {};
      for (const [field, value] of Object.entries(wanted) as Array<[keyof pq.ProfileChanges, string | boolean | null]>) {
        if (current[field] !== value) (changes as Record<string, unknown>)[field] = value;
      }
      if (Object.keys(changes).length === 0) return toProfile(current);

      let updated = await pq.updateProfile(tx, userId, changes);
      await ctx.outbox.add(tx, {
        aggregate: 'profile',
        action: 'updated',
        type: 'ProfileUpdated',
        entityId: userId,
        data: { user_id: userId, changes, updated_at: updated.updated_at.toISOString() },
        correlationId: meta.correlationId ?? null,
      });

      if (changes.is_private === false) {
        const accepted = await convertRequestsToFollows(tx, userId);
        if (accepted.length > 0) {
          await pq.bumpCounter(tx, [userId], 'follower_count', accepted.length);
          await pq.bumpCounter(tx, accepted, 'following_count', 1);
          for (const requesterId of accepted) {
            const data = { follower_id: requesterId, followee_id: userId };
            await ctx.outbox.add(tx, { aggregate: 'follow-request', action: 'accepted', type: 'FollowRequestAccepted', entityId: `${requesterId}:${userId}`, data: { ...data, reason: 'account_made_public' }, correlationId: meta.correlationId ?? null });
            await ctx.outbox.add(tx, { aggregate: 'follow', action: 'created', type: 'FollowCreated', entityId: `${requesterId}:${userId}`, data, correlationId: meta.correlationId ?? null });
          }
          updated = (await pq.findProfile(tx, userId)) ?? updated;
        }
      }
      return toProfile(updated);
    }),
  );
}
