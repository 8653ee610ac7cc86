import { AppError, decodePosition, encodePosition, pageLimit, type Tx } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as fq from '../db/queries/follows.js';
import { bumpCounter, lockProfiles, type ProfileRow } from '../db/queries/profiles.js';
import { blockedEitherWay, isFollowing } from '../db/queries/relations.js';
import type { UsersDb } from '../db/schema.js';
import { ensureOwnProfile, toProfile, type ProfileView } from './profiles.js';
import { withDeadlockRetry } from './retry.js';
import { canSeeProtected, visibleProfile } from './visibility.js';

type Db = Tx<UsersDb>;

export interface RequestMeta {
  correlationId?: string | undefined;
}

export type FollowState = 'following' | 'requested';

/** What a follow call did: the state it left, and whether it changed anything (false: it already was so). */
export interface FollowOutcome {
  state: FollowState;
  changed: boolean;
}

/** Why a follow ended (in FollowDeleted): the follower unfollowed, or a block between the two removed it. */
export type UnfollowReason = 'unfollowed' | 'blocked';

/** Ids arrive from paths and tokens; uuids compare as text in JS, so one spelling is used everywhere. */
export const normaliseId = (id: string): string => id.toLowerCase();

/** Runs one change to the follow graph in a transaction, again if PostgreSQL chose it as a deadlock victim. */
export function graphTransaction<T>(ctx: AppContext, fn: (tx: Db) => Promise<T>): Promise<T> {
  return withDeadlockRetry(() => ctx.db.transaction().execute(fn));
}

/** The caller's own profile is not there yet (auth's UserRegistered not yet handled) or any more. */
class CallerProfileMissing extends Error {}

/**
 * Locks the rows of both live profiles (FOR NO KEY UPDATE, in id order like every multi-profile lock, so
 * no two transactions wait on each other in a cycle). Every change to the relationship between two people
 * takes it first: the checks made under it (deleted? blocked? private?) still hold when the change is
 * written, and an account deletion (which updates the profile row) either waits for it or is seen by it.
 */
export async function lockPair(tx: Db, callerId: string, targetId: string): Promise<{ target?: ProfileRow; caller?: ProfileRow }> {
  const rows = await lockProfiles(tx, [callerId, targetId]);
  const out: { target?: ProfileRow; caller?: ProfileRow } = {};
  for (const r of rows) out[r.id === targetId ? 'target' : 'caller'] = r;
  return out;
}

/**
 * Locks the pair and checks that the target may be acted on: it exists, is not deleted, and neither side
 * blocks the other — all three answer 404, like a profile the caller cannot see.
 */
async function lockActionable(tx: Db, callerId: string, targetId: string): Promise<ProfileRow> {
  const { target, caller } = await lockPair(tx, callerId, targetId);
  if (!target || (await blockedEitherWay(tx, callerId, targetId))) throw new AppError('NOT_FOUND', 'user not found');
  if (!caller) throw new CallerProfileMissing();
  return target;
}

/**
 * Runs a change made by the caller; when their profile is missing (a client acting the moment it signed
 * up, before auth's UserRegistered is handled) it is created from auth's account first, as `/me` does,
 * and the change is run again. An account auth no longer knows is 404.
 */
export async function asCaller<T>(ctx: AppContext, callerId: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof CallerProfileMissing)) throw err;
  }
  await ensureOwnProfile(ctx, callerId);
  return run();
}

/** Throws when the caller has no live profile (see {@link asCaller}). */
export function requireCaller(caller: ProfileRow | undefined): void {
  if (!caller) throw new CallerProfileMissing();
}

/** Inserts a follow and, only if a row was inserted, moves both counters and records FollowCreated. */
export async function addFollowInTx(ctx: AppContext, tx: Db, followerId: string, followeeId: string, meta: RequestMeta): Promise<boolean> {
  if (!(await fq.insertFollow(tx, followerId, followeeId))) return false;
  await bumpCounter(tx, [followeeId], 'follower_count', 1);
  await bumpCounter(tx, [followerId], 'following_count', 1);
  await ctx.outbox.add(tx, {
    aggregate: 'follow',
    action: 'created',
    type: 'FollowCreated',
    entityId: `${followerId}:${followeeId}`,
    data: { follower_id: followerId, followee_id: followeeId },
    correlationId: meta.correlationId ?? null,
  });
  return true;
}

/** Deletes a follow and, only if a row was deleted, moves both counters back and records FollowDeleted. */
export async function removeFollowInTx(ctx: AppContext, tx: Db, followerId: string, followeeId: string, reason: UnfollowReason, meta: RequestMeta): Promise<boolean> {
  if (!(await fq.deleteFollow(tx, followerId, followeeId))) return false;
  await bumpCounter(tx, [followeeId], 'follower_count', -1);
  await bumpCounter(tx, [followerId], 'following_count', -1);
  await ctx.outbox.add(tx, {
    aggregate: 'follow',
    action: 'deleted',
    type: 'FollowDeleted',
    entityId: `${followerId}:${followeeId}`,
    data: { follower_id: followerId, followee_id: followeeId, reason },
    correlationId: meta.correlationId ?? null,
  });
  return true;
}

/** Records an event about a follow request from `requesterId` to `targetId`. */
function requestEvent(ctx: AppContext, tx: Db, action: 'created' | 'withdrawn' | 'accepted' | 'rejected', requesterId: string, targetId: string, meta: RequestMeta) {
  const type = { created: 'FollowRequested', withdrawn: 'FollowRequestWithdrawn', accepted: 'FollowRequestAccepted', rejected: 'FollowRequestRejected' }[action];
  return ctx.outbox.add(tx, {
    aggregate: 'follow-request',
    action,
    type,
    entityId: `${requesterId}:${targetId}`,
    data: { follower_id: requesterId, followee_id: targetId, requester_id: requesterId, target_id: targetId },
    correlationId: meta.correlationId ?? null,
  });
}

/**
 * Follows a public account at once; asks a private one (a pending follow request). Repeating it changes
 * nothing. A request left pending while the account was private becomes a follow once it is public.
 */
export async function follow(ctx: AppContext, callerId: string, targetId: string, meta: RequestMeta): Promise<FollowOutcome> {
  const me = normaliseId(callerId);
  const them = normaliseId(targetId);
  if (me === them) throw new AppError('BAD_REQUEST', 'you cannot follow yourself');
  return asCaller(ctx, me, () => graphTransaction(ctx, (tx) => followInTx(ctx, tx, me, them, meta)));
}

async function followInTx(ctx: AppContext, tx: Db, me: string, them: string, meta: RequestMeta): Promise<FollowOutcome> {
  const target = await lockActionable(tx, me, them);
  if (await isFollowing(tx, me, them)) return { state: 'following', changed: false };
  if (target.is_private) {
    const created = await fq.insertFollowRequest(tx, me, them);
    if (created) await requestEvent(ctx, tx, 'created', me, them, meta);
    return { state: 'requested', changed: created };
  }
  await fq.deleteFollowRequest(tx, me, them);
  return { state: 'following', changed: await addFollowInTx(ctx, tx, me, them, meta) };
}

/** Unfollows, or withdraws a pending request; afterwards the caller neither follows nor asks. Idempotent. */
export async function unfollow(ctx: AppContext, callerId: string, targetId: string, meta: RequestMeta): Promise<void> {
  const me = normaliseId(callerId);
  const them = normaliseId(targetId);
  if (me === them) throw new AppError('BAD_REQUEST', 'you cannot unfollow yourself');
  await graphTransaction(ctx, async (tx) => {
    await lockPair(tx, me, them);
    await removeFollowInTx(ctx, tx, me, them, 'unfollowed', meta);
    if (await fq.deleteFollowRequest(tx, me, them)) await requestEvent(ctx, tx, 'withdrawn', me, them, meta);
  });
}

/** Accepts the pending request of `requesterId` to follow the caller: the follow exists afterwards. */
export async function acceptFollowRequest(ctx: AppContext, callerId: string, requesterId: string, meta: RequestMeta): Promise<void> {
  const me = normaliseId(callerId);
  const them = normaliseId(requesterId);
  await graphTransaction(ctx, async (tx) => {
    await lockPair(tx, me, them);
    // Requests from deleted or blocked people went with the account or the block.
    if (!(await fq.deleteFollowRequest(tx, them, me))) throw new AppError('NOT_FOUND', 'follow request not found');
    await requestEvent(ctx, tx, 'accepted', them, me, meta);
    await addFollowInTx(ctx, tx, them, me, meta);
  });
}

/** Declines the pending request of `requesterId`. The requester is not told (no notification). */
export async function rejectFollowRequest(ctx: AppContext, callerId: string, requesterId: string, meta: RequestMeta): Promise<void> {
  const me = normaliseId(callerId);
  const them = normaliseId(requesterId);
  await ctx.db.transaction().execute(async (tx) => {
    if (!(await fq.deleteFollowRequest(tx, them, me))) throw new AppError('NOT_FOUND', 'follow request not found');
    await requestEvent(ctx, tx, 'rejected', them, me, meta);
  });
}

// ---- lists ----------------------------------------------------------------------------------------

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export interface PageRequest {
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface Page<T> {
  users: T[];
  next_cursor: string | null;
}

export const pageSize = (limit: number | undefined): number => pageLimit(limit, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);


/** Turns `limit + 1` fetched rows into a page: the extra row only says that another page follows. */
export function toPage<K extends string>(rows: fq.ListedProfile[], limit: number, sinceKey: K): Page<ProfileView & Record<K, string>> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    users: page.map((r) => ({ ...toProfile(r), [sinceKey]: r.since.toISOString() }) as ProfileView & Record<K, string>),
    next_cursor: rows.length > limit && last ? encodePosition(last.position_at, last.id) : null,
  };
}

/**
 * A user's followers or followings, newest first. Anyone who can see the profile sees the lists of a
 * public account; a private account's lists are for its owner and approved followers (403 FORBIDDEN,
 * details.reason `private_account`, for everyone else — the profile itself, and that it is private, are
 * visible anyway). People blocked by or blocking the viewer are left out.
 */
export async function listFollows(ctx: AppContext, viewerId: string | undefined, userId: string, direction: 'followers' | 'following', req: PageRequest) {
  const viewer = viewerId === undefined ? undefined : normaliseId(viewerId);
  const limit = pageSize(req.limit);
  const after = decodePosition(req.cursor);
  const profile = await visibleProfile(ctx, viewer, normaliseId(userId));
  if (!(await canSeeProtected(ctx, viewer, profile))) {
    throw new AppError('FORBIDDEN', 'this account is private: only its approved followers see its lists', { details: { reason: 'private_account' } });
  }
  const rows = await fq.listEdges(ctx.db, { userId: profile.id, direction, excludeBlockedWith: viewer, after, limit: limit + 1 });
  return toPage(rows, limit, 'followed_at');
}

/** The caller's pending follow requests, newest first, with the requesters' profiles. */
export async function listFollowRequests(ctx: AppContext, callerId: string, req: PageRequest) {
  const limit = pageSize(req.limit);
  const rows = await fq.listFollowRequests(ctx.db, { targetId: normaliseId(callerId), after: decodePosition(req.cursor), limit: limit + 1 });
  return toPage(rows, limit, 'requested_at');
}
