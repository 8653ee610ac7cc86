import { sql, type DbOrTx } from '@nova/platform';
import type { UsersDb } from '../schema.js';
import { positionText, type ListedProfile, type ListPosition } from './follows.js';

type Q = DbOrTx<UsersDb>;

export async function isBlocking(db: Q, blockerId: string, blockedId: string): Promise<boolean> {
  const row = await db.selectFrom('blocks').select('created_at').where('blocker_id', '=', blockerId).where('blocked_id', '=', blockedId).executeTakeFirst();
  return row !== undefined;
}

/** Inserts a block unless it exists; true when a row was inserted. */
export async function insertBlock(db: Q, blockerId: string, blockedId: string): Promise<boolean> {
  const row = await db
    .insertInto('blocks')
    .values({ blocker_id: blockerId, blocked_id: blockedId })
    .onConflict((oc) => oc.columns(['blocker_id', 'blocked_id']).doNothing())
    .returning('created_at')
    .executeTakeFirst();
  return row !== undefined;
}

export async function deleteBlock(db: Q, blockerId: string, blockedId: string): Promise<boolean> {
  const row = await db.deleteFrom('blocks').where('blocker_id', '=', blockerId).where('blocked_id', '=', blockedId).returning('created_at').executeTakeFirst();
  return row !== undefined;
}

/** Deletes pending follow requests between two people, both ways; the number deleted. */
export async function deleteRequestsBetween(db: Q, a: string, b: string): Promise<number> {
  const rows = await db
    .deleteFrom('follow_requests')
    .where((eb) => eb.or([eb.and([eb('requester_id', '=', a), eb('target_id', '=', b)]), eb.and([eb('requester_id', '=', b), eb('target_id', '=', a)])]))
    .returning('requester_id')
    .execute();
  return rows.length;
}

/**
 * The people `blockerId` blocks (live profiles), most recent block first, with the same keyset order as
 * the follow lists (time descending, then id ascending).
 */
export function listBlocked(db: Q, q: { blockerId: string; after?: ListPosition | undefined; limit: number }): Promise<ListedProfile[]> {
  let query = db
    .selectFrom('blocks as b')
    .innerJoin('profiles as p', 'p.id', 'b.blocked_id')
    .selectAll('p')
    .select(['b.created_at as since', positionText('b.created_at').as('position_at')])
    .where('b.blocker_id', '=', q.blockerId)
    .where('p.deleted_at', 'is', null);
  if (q.after) {
    const { at, id } = q.after;
    query = query.where((eb) => eb.and([eb('b.created_at', '<=', sql<Date>`${at}::timestamptz`), eb.or([eb('b.created_at', '<', sql<Date>`${at}::timestamptz`), eb('b.blocked_id', '>', id)])]));
  }
  return query.orderBy('b.created_at', 'desc').orderBy('b.blocked_id', 'asc').limit(q.limit).execute();
}
