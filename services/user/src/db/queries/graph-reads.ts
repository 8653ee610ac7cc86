import { sql, type DbOrTx } from '@nova/platform';
import type { UsersDb } from '../schema.js';
import { positionText } from './follows.js';

type Q = DbOrTx<UsersDb>;

/**
 * A follow as other services see it: who, and when (RFC 3339 in UTC with microseconds: a JS Date keeps only
 * milliseconds, so a cursor built from one could skip or repeat follows made within the same millisecond).
 */
export interface FollowerRow {
  follower_id: string;
  followed_at: string;
}

/** Where a followers page resumes: the (follow time, follower id) of the last row of the previous page. */
export interface FollowerKey {
  followedAt: string;
  followerId: string;
}

/**
 * One page of a live user's followers, newest first: ordered by (created_at DESC, follower_id ASC), which is
 * the order of follows_followee_idx, so the page is an index range scan. Deleted followers are left out.
 * Returns up to `limit` rows; empty when the user has no (more) followers or is not a live profile.
 */
export function followersPage(db: Q, userId: string, limit: number, after?: FollowerKey): Promise<FollowerRow[]> {
  let q = db
    .selectFrom('follows as f')
    .innerJoin('profiles as p', 'p.id', 'f.follower_id')
    .select(['f.follower_id', positionText('f.created_at').as('followed_at')])
    .where('f.followee_id', '=', userId)
    .where('p.deleted_at', 'is', null)
    .where((eb) => eb.exists(eb.selectFrom('profiles as o').select(sql`1`.as('one')).where('o.id', '=', userId).where('o.deleted_at', 'is', null)));
  if (after) {
    const at = sql`${after.followedAt}::timestamptz`;
    // The redundant `<=` bounds the index range; the OR picks up ties on created_at after the last id.
    q = q.where(sql<boolean>`f.created_at <= ${at} AND (f.created_at < ${at} OR f.follower_id > ${after.followerId}::uuid)`);
  }
  return q.orderBy('f.created_at', 'desc').orderBy('f.follower_id', 'asc').limit(limit).execute();
}

/** A followee as other services see it: whom, and since when (same text form as {@link FollowerRow}). */
export interface FolloweeRow {
  followee_id: string;
  followed_at: string;
}

/** Where a following page resumes: the (follow time, followee id) of the last row of the previous page. */
export interface FolloweeKey {
  followedAt: string;
  followeeId: string;
}

/**
 * One page of whom a live user follows, newest follow first: (created_at DESC, followee_id ASC), a range
 * scan of follows_follower_idx. Deleted followees are left out. Empty when there are no (more) follows or the
 * user is not a live profile.
 */
export function followingPage(db: Q, userId: string, limit: number, after?: FolloweeKey): Promise<FolloweeRow[]> {
  let q = db
    .selectFrom('follows as f')
    .innerJoin('profiles as p', 'p.id', 'f.followee_id')
    .select(['f.followee_id', positionText('f.created_at').as('followed_at')])
    .where('f.follower_id', '=', userId)
    .where('p.deleted_at', 'is', null)
    .where((eb) => eb.exists(eb.selectFrom('profiles as o').select(sql`1`.as('one')).where('o.id', '=', userId).where('o.deleted_at', 'is', null)));
  if (after) {
    const at = sql`${after.followedAt}::timestamptz`;
    q = q.where(sql<boolean>`f.created_at <= ${at} AND (f.created_at < ${at} OR f.followee_id > ${after.followeeId}::uuid)`);
  }
  return q.orderBy('f.created_at', 'desc').orderBy('f.followee_id', 'asc').limit(limit).execute();
}

export interface Relationship {
  following: boolean;
  followed_by: boolean;
  requested: boolean;
  requested_by: boolean;
  blocking: boolean;
  blocked_by: boolean;
  muting: boolean;
}

/** Everything between a and b seen from a, in one round trip (seven primary-key probes). */
export async function relationship(db: Q, a: string, b: string): Promise<Relationship> {
  const one = sql`1`.as('one');
  const row = await db
    .selectNoFrom((eb) => [
      eb.exists(eb.selectFrom('follows').select(one).where('follower_id', '=', a).where('followee_id', '=', b)).as('following'),
      eb.exists(eb.selectFrom('follows').select(one).where('follower_id', '=', b).where('followee_id', '=', a)).as('followed_by'),
      eb.exists(eb.selectFrom('follow_requests').select(one).where('requester_id', '=', a).where('target_id', '=', b)).as('requested'),
      eb.exists(eb.selectFrom('follow_requests').select(one).where('requester_id', '=', b).where('target_id', '=', a)).as('requested_by'),
      eb.exists(eb.selectFrom('blocks').select(one).where('blocker_id', '=', a).where('blocked_id', '=', b)).as('blocking'),
      eb.exists(eb.selectFrom('blocks').select(one).where('blocker_id', '=', b).where('blocked_id', '=', a)).as('blocked_by'),
      eb
        .exists(
          eb
            .selectFrom('mutes')
            .select(one)
            .where('muter_id', '=', a)
            .where('muted_id', '=', b)
            .where((w) => w.or([w('expires_at', 'is', null), w('expires_at', '>', sql<Date>`now()`)])),
        )
        .as('muting'),
    ])
    .executeTakeFirstOrThrow();
  return row as Relationship;
}

/** Both directions of a user's blocks, newest first: whom the user blocks and who blocks the user. */
export async function blocksOf(db: Q, userId: string): Promise<{ blocking: string[]; blockedBy: string[] }> {
  const rows = await db
    .selectFrom('blocks')
    .select(['blocker_id', 'blocked_id'])
    .where((eb) => eb.or([eb('blocker_id', '=', userId), eb('blocked_id', '=', userId)]))
    .orderBy('created_at', 'desc')
    .execute();
  const blocking: string[] = [];
  const blockedBy: string[] = [];
  for (const r of rows) {
    if (r.blocker_id === userId) blocking.push(r.blocked_id);
    else blockedBy.push(r.blocker_id);
  }
  return { blocking, blockedBy };
}
