import { sql, type DbOrTx, type Selectable } from '@nova/platform';
import type { ProfilesTable, UsersDb } from '../schema.js';

type Q = DbOrTx<UsersDb>;

/** A keyset position in a list ordered newest first: the row's timestamp (microseconds, UTC text) and id. */
export interface ListPosition {
  at: string;
  id: string;
}

/** A profile in a list, with when the relationship began and its keyset position. */
export type ListedProfile = Selectable<ProfilesTable> & { since: Date; position_at: string };

/** Full microsecond precision: a millisecond Date would skip or repeat rows that share a millisecond. */
export const positionText = (column: string) => sql<string>`to_char(${sql.ref(column)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Inserts a follow unless it exists; true when a row was inserted (only then may counters move). */
export async function insertFollow(db: Q, followerId: string, followeeId: string): Promise<boolean> {
  const row = await db
    .insertInto('follows')
    .values({ follower_id: followerId, followee_id: followeeId })
    .onConflict((oc) => oc.columns(['follower_id', 'followee_id']).doNothing())
    .returning('created_at')
    .executeTakeFirst();
  return row !== undefined;
}

/** Deletes a follow; true when a row was deleted. */
export async function deleteFollow(db: Q, followerId: string, followeeId: string): Promise<boolean> {
  const row = await db.deleteFrom('follows').where('follower_id', '=', followerId).where('followee_id', '=', followeeId).returning('created_at').executeTakeFirst();
  return row !== undefined;
}

export async function insertFollowRequest(db: Q, requesterId: string, targetId: string): Promise<boolean> {
  const row = await db
    .insertInto('follow_requests')
    .values({ requester_id: requesterId, target_id: targetId })
    .onConflict((oc) => oc.columns(['requester_id', 'target_id']).doNothing())
    .returning('created_at')
    .executeTakeFirst();
  return row !== undefined;
}

export async function deleteFollowRequest(db: Q, requesterId: string, targetId: string): Promise<boolean> {
  const row = await db.deleteFrom('follow_requests').where('requester_id', '=', requesterId).where('target_id', '=', targetId).returning('created_at').executeTakeFirst();
  return row !== undefined;
}

export async function hasFollowRequest(db: Q, requesterId: string, targetId: string): Promise<boolean> {
  const row = await db.selectFrom('follow_requests').select('created_at').where('requester_id', '=', requesterId).where('target_id', '=', targetId).executeTakeFirst();
  return row !== undefined;
}

export interface EdgeListQuery {
  /** Whose list. */
  userId: string;
  /** `followers`: who follows userId; `following`: whom userId follows. */
  direction: 'followers' | 'following';
  /** People blocked by, or blocking, this user are left out (the viewer of the list). */
  excludeBlockedWith?: string | undefined;
  after?: ListPosition | undefined;
  limit: number;
}

/**
 * One page of a follower or following list, newest follow first (ties: lower id first, the order of the
 * follows indexes), live profiles only. Keyset: a row comes after `after` when it is older, or as old
 * with a greater id.
 */
export function listEdges(db: Q, q: EdgeListQuery): Promise<ListedProfile[]> {
  const [self, other] = q.direction === 'followers' ? (['f.followee_id', 'f.follower_id'] as const) : (['f.follower_id', 'f.followee_id'] as const);
  let query = db
    .selectFrom('follows as f')
    .innerJoin('profiles as p', 'p.id', other)
    .selectAll('p')
    .select(['f.created_at as since', positionText('f.created_at').as('position_at')])
    .where(self, '=', q.userId)
    .where('p.deleted_at', 'is', null);
  if (q.excludeBlockedWith !== undefined) {
    const viewer = q.excludeBlockedWith;
    query = query
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('blocks as b').select(sql`1`.as('x')).where('b.blocker_id', '=', viewer).whereRef('b.blocked_id', '=', 'p.id'))))
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('blocks as b').select(sql`1`.as('x')).whereRef('b.blocker_id', '=', 'p.id').where('b.blocked_id', '=', viewer))));
  }
  if (q.after) {
    const { at, id } = q.after;
    query = query.where((eb) =>
      eb.and([eb('f.created_at', '<=', sql<Date>`${at}::timestamptz`), eb.or([eb('f.created_at', '<', sql<Date>`${at}::timestamptz`), eb(other, '>', id)])]),
    );
  }
  return query.orderBy('f.created_at', 'desc').orderBy(other, 'asc').limit(q.limit).execute();
}

/** Pending follow requests to `targetId` from live profiles, newest first, in the same keyset order. */
export function listFollowRequests(db: Q, q: { targetId: string; after?: ListPosition | undefined; limit: number }): Promise<ListedProfile[]> {
  let query = db
    .selectFrom('follow_requests as r')
    .innerJoin('profiles as p', 'p.id', 'r.requester_id')
    .selectAll('p')
    .select(['r.created_at as since', positionText('r.created_at').as('position_at')])
    .where('r.target_id', '=', q.targetId)
    .where('p.deleted_at', 'is', null);
  if (q.after) {
    const { at, id } = q.after;
    query = query.where((eb) =>
      eb.and([eb('r.created_at', '<=', sql<Date>`${at}::timestamptz`), eb.or([eb('r.created_at', '<', sql<Date>`${at}::timestamptz`), eb('r.requester_id', '>', id)])]),
    );
  }
  return query.orderBy('r.created_at', 'desc').orderBy('r.requester_id', 'asc').limit(q.limit).execute();
}
