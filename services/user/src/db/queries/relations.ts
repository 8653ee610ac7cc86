import { sql, type DbOrTx } from '@nova/platform';
import type { UsersDb } from '../schema.js';

type Q = DbOrTx<UsersDb>;

/** Does either user block the other? One index lookup each way. */
export async function blockedEitherWay(db: Q, a: string, b: string): Promise<boolean> {
  const row = await db
    .selectFrom('blocks')
    .select(sql<number>`1`.as('x'))
    .where((eb) => eb.or([eb.and([eb('blocker_id', '=', a), eb('blocked_id', '=', b)]), eb.and([eb('blocker_id', '=', b), eb('blocked_id', '=', a)])]))
    .executeTakeFirst();
  return row !== undefined;
}

export async function isFollowing(db: Q, follower: string, followee: string): Promise<boolean> {
  const row = await db.selectFrom('follows').select('created_at').where('follower_id', '=', follower).where('followee_id', '=', followee).executeTakeFirst();
  return row !== undefined;
}

/** Which of `candidates` `follower` follows (approved follows). */
export async function followedAmong(db: Q, follower: string, candidates: readonly string[]): Promise<string[]> {
  if (candidates.length === 0) return [];
  const rows = await db.selectFrom('follows').select('followee_id').where('follower_id', '=', follower).where('followee_id', 'in', [...candidates]).execute();
  return rows.map((r) => r.followee_id);
}
