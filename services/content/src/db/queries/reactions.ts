import { sql, type DbOrTx, type Selectable } from '@nova/platform';
import type { ContentDb, PostsTable } from '../schema.js';

type Q = DbOrTx<ContentDb>;

/** The three reactions to a post, each a table keyed (post_id, user_id) with a counter on the post. */
export type Reaction = 'likes' | 'reposts' | 'bookmarks';

export const REACTION_COUNTER = { likes: 'like_count', reposts: 'repost_count', bookmarks: 'bookmark_count' } as const;

/** A keyset position in a list ordered newest first: the row's timestamp (microseconds, UTC text) and a tie-breaking id. */
export interface ListPosition {
  at: string;
  id: string;
}

/** Full microsecond precision: a millisecond Date would skip or repeat rows that share a millisecond. */
export const positionText = (column: string) => sql<string>`to_char(${sql.ref(column)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Inserts a reaction unless it exists; true when a row was inserted (only then may the counter move). */
export async function insertReaction(db: Q, table: Reaction, postId: string, userId: string): Promise<boolean> {
  const row = await db
    .insertInto(table)
    .values({ post_id: postId, user_id: userId })
    .onConflict((oc) => oc.columns(['post_id', 'user_id']).doNothing())
    .returning('created_at')
    .executeTakeFirst();
  return row !== undefined;
}

/** Deletes a reaction; true when a row was deleted. */
export async function deleteReaction(db: Q, table: Reaction, postId: string, userId: string): Promise<boolean> {
  const row = await db.deleteFrom(table).where('post_id', '=', postId).where('user_id', '=', userId).returning('created_at').executeTakeFirst();
  return row !== undefined;
}

export async function hasReaction(db: Q, table: Reaction, postId: string, userId: string): Promise<boolean> {
  const row = await db.selectFrom(table).select('created_at').where('post_id', '=', postId).where('user_id', '=', userId).executeTakeFirst();
  return row !== undefined;
}

/** Moves a reaction counter of some posts by `delta` (each post once). */
export async function bumpReactionCounter(db: Q, table: Reaction, postIds: readonly string[], delta: number): Promise<void> {
  if (postIds.length === 0) return;
  const column = REACTION_COUNTER[table];
  await db
    .updateTable('posts')
    .set({ [column]: sql`${sql.ref(column)} + ${delta}` })
    .where('id', 'in', [...postIds])
    .execute();
}

/** Who reacted to a post, newest first (ties: higher user id first, the order of the `<table>_post_idx` index). */
export async function listPostReactors(
  db: Q,
  q: { table: Reaction; postId: string; excludeUserIds: readonly string[]; after?: ListPosition | undefined; limit: number },
): Promise<{ user_id: string; created_at: Date; position_at: string }[]> {
  let query = db
    .selectFrom(`${q.table} as r`)
    .select(['r.user_id', 'r.created_at', positionText('r.created_at').as('position_at')])
    .where('r.post_id', '=', q.postId);
  if (q.excludeUserIds.length > 0) query = query.where('r.user_id', 'not in', [...q.excludeUserIds]);
  if (q.after) {
    const { at, id } = q.after;
    query = query.where(sql<boolean>`(r.created_at, r.user_id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  return query.orderBy('r.created_at', 'desc').orderBy('r.user_id', 'desc').limit(q.limit).execute();
}

/**
 * A user's reactions of one kind, newest first, on live posts only (ties: higher post id first). Visibility
 * is the caller's to re-check: this returns posts as stored.
 */
export type ListedReactionPost = Selectable<PostsTable> & { reacted_at: Date; position_at: string };

export async function listUserReactions(db: Q, q: { table: Reaction; userId: string; after?: ListPosition | undefined; limit: number }): Promise<ListedReactionPost[]> {
  let query = db
    .selectFrom(`${q.table} as r`)
    .innerJoin('posts as p', 'p.id', 'r.post_id')
    .selectAll('p')
    .select(['r.created_at as reacted_at', positionText('r.created_at').as('position_at')])
    .where('r.user_id', '=', q.userId)
    .where('p.deleted_at', 'is', null);
  if (q.after) {
    const { at, id } = q.after;
    query = query.where(sql<boolean>`(r.created_at, r.post_id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  return query.orderBy('r.created_at', 'desc').orderBy('r.post_id', 'desc').limit(q.limit).execute();
}

/** Deletes every reaction of a kind a user made (optionally only on posts by `authorId`); returns the posts touched. */
export async function deleteReactionsBy(db: Q, table: Reaction, userId: string, authorId?: string): Promise<string[]> {
  let query = db.deleteFrom(table).where('user_id', '=', userId);
  if (authorId !== undefined) query = query.where('post_id', 'in', (eb) => eb.selectFrom('posts').select('id').where('author_id', '=', authorId));
  const rows = await query.returning('post_id').execute();
  return rows.map((r) => r.post_id);
}

/** Removes a user's reactions (optionally only those on `authorId`'s posts) and corrects the counters; returns the posts touched. */
export async function removeReactionsBy(db: Q, table: Reaction, userId: string, authorId?: string): Promise<string[]> {
  // Locks the counters' rows first, in id order, so that concurrent reactions on the same posts cannot deadlock with this.
  let posts = db.selectFrom(`${table} as r`).innerJoin('posts as p', 'p.id', 'r.post_id').select('p.id').where('r.user_id', '=', userId);
  if (authorId !== undefined) posts = posts.where('p.author_id', '=', authorId);
  await posts.orderBy('p.id').forNoKeyUpdate('p').execute();
  const touched = await deleteReactionsBy(db, table, userId, authorId);
  await bumpReactionCounter(db, table, touched, -1);
  return touched;
}
