import { sql, type EventEnvelope, type Tx } from '@nova/platform';
import * as cq from '../db/queries/comments.js';
import * as rq from '../db/queries/reactions.js';
import type { ContentDb } from '../db/schema.js';

type Db = Tx<ContentDb>;

const REACTIONS: rq.Reaction[] = ['likes', 'reposts', 'bookmarks'];

/**
 * auth's UserDeleted: everything the user published is soft-deleted with deleted_by = the user — posts,
 * comments (the posts' comment_count and the parents' reply_count corrected) and stories — and everything
 * they did to others' content goes: likes, reposts, bookmarks and comment likes (counters corrected), and
 * close-friends entries both ways. No per-item PostDeleted/CommentDeleted events: other services react to
 * UserDeleted themselves. Replaying it changes nothing (only live rows are touched).
 */
export async function onUserDeleted(tx: Db, event: EventEnvelope<{ user_id: string }>): Promise<void> {
  const id = event.data.user_id.toLowerCase();
  // Reactions and comments first: they lock posts' rows in id order before touching their counters.
  for (const table of REACTIONS) await rq.removeReactionsBy(tx, table, id);
  await cq.removeCommentLikesBy(tx, id);
  await cq.softDeleteCommentsBy(tx, id, id);
  await tx
    .updateTable('posts')
    .set({ deleted_at: sql`clock_timestamp()`, deleted_by: id, updated_at: sql`clock_timestamp()` })
    .where('author_id', '=', id)
    .where('deleted_at', 'is', null)
    .execute();
  await tx.updateTable('stories').set({ deleted_at: sql`clock_timestamp()`, deleted_by: id }).where('author_id', '=', id).where('deleted_at', 'is', null).execute();
  await tx
    .deleteFrom('close_friends')
    .where((eb) => eb.or([eb('user_id', '=', id), eb('friend_id', '=', id)]))
    .execute();
}

/**
 * user's UserBlocked: each side's likes, reposts and bookmarks of the other's posts, and likes of the
 * other's comments, are removed with counter corrections (a block cuts every tie, and the posts are hidden
 * from each other from now on anyway). Comments stay: reads hide them from the other side. Nothing comes
 * back on unblock.
 */
export async function onUserBlocked(tx: Db, event: EventEnvelope<{ blocker_id: string; blocked_id: string }>): Promise<void> {
  const a = event.data.blocker_id.toLowerCase();
  const b = event.data.blocked_id.toLowerCase();
  for (const [user, author] of [
    [a, b],
    [b, a],
  ] as const) {
    for (const table of REACTIONS) await rq.removeReactionsBy(tx, table, user, author);
    await cq.removeCommentLikesBy(tx, user, author);
  }
}
