import { sql, type DbOrTx } from '@nova/platform';
import type { UsersDb } from '../schema.js';

type Q = DbOrTx<UsersDb>;

/** Who has a pending follow request to `targetId`. */
export async function requesterIds(db: Q, targetId: string): Promise<string[]> {
  const rows = await db.selectFrom('follow_requests').select('requester_id').where('target_id', '=', targetId).execute();
  return rows.map((r) => r.requester_id);
}

/**
 * Turns every pending request to `targetId` from a live requester who is not blocked either way into a follow
 * (an existing follow is kept), then removes all the target's pending requests. Returns the requesters that
 * now follow and did not before: only those may move counters or be announced.
 */
export async function convertRequestsToFollows(db: Q, targetId: string): Promise<string[]> {
  const { rows } = await sql<{ follower_id: string }>`
    INSERT INTO users.follows (follower_id, followee_id)
    SELECT r.requester_id, r.target_id
      FROM users.follow_requests r
      JOIN users.profiles p ON p.id = r.requester_id AND p.deleted_at IS NULL
     WHERE r.target_id = ${targetId}
       AND NOT EXISTS (SELECT 1 FROM users.blocks b WHERE (b.blocker_id = r.requester_id AND b.blocked_id = r.target_id) OR (b.blocker_id = r.target_id AND b.blocked_id = r.requester_id))
     ORDER BY r.created_at, r.requester_id
    ON CONFLICT (follower_id, followee_id) DO NOTHING
    RETURNING follower_id`.execute(db);
  await db.deleteFrom('follow_requests').where('target_id', '=', targetId).execute();
  return rows.map((r) => r.follower_id);
}
