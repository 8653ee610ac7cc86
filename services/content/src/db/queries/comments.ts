import { sql, type DbOrTx, type Selectable } from '@nova/platform';
import type { CommentsTable, ContentDb } from '../schema.js';
import { positionText, type ListPosition } from './reactions.js';

type Q = DbOrTx<ContentDb>;

export type CommentRow = Selectable<CommentsTable>;
export type ListedComment = CommentRow & { position_at: string };

export async function insertComment(db: Q, c: { id: string; postId: string; authorId: string; parentId: string | null; text: string }): Promise<CommentRow> {
  return db
    .insertInto('comments')
    .values({ id: c.id, post_id: c.postId, author_id: c.authorId, parent_id: c.parentId, text: c.text })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findComment(db: Q, id: string): Promise<CommentRow | undefined> {
  return db.selectFrom('comments').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Locks a comment's row (FOR NO KEY UPDATE) and returns it. */
export function lockComment(db: Q, id: string): Promise<CommentRow | undefined> {
  return db.selectFrom('comments').selectAll().where('id', '=', id).forNoKeyUpdate().executeTakeFirst();
}

/** Soft-deletes a live comment; the row as it was when deleted, or undefined if it was already gone. */
export function softDeleteComment(db: Q, id: string, deletedBy: string): Promise<CommentRow | undefined> {
  return db
    .updateTable('comments')
    .set({ deleted_at: sql`clock_timestamp()`, deleted_by: deletedBy })
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

export async function bumpPostComments(db: Q, postIds: readonly string[], delta: number): Promise<void> {
  if (postIds.length === 0) return;
  await db
    .updateTable('posts')
    .set({ comment_count: sql`comment_count + ${delta}` })
    .where('id', 'in', [...postIds])
    .execute();
}

export async function bumpCommentCounter(db: Q, commentIds: readonly string[], column: 'reply_count' | 'like_count', delta: number): Promise<void> {
  if (commentIds.length === 0) return;
  await db
    .updateTable('comments')
    .set({ [column]: sql`${sql.ref(column)} + ${delta}` })
    .where('id', 'in', [...commentIds])
    .execute();
}

export interface CommentListQuery {
  postId: string;
  /** null: top-level comments (newest first); an id: the replies of that comment (oldest first). */
  parentId: string | null;
  excludeAuthorIds: readonly string[];
  after?: ListPosition | undefined;
  limit: number;
}

/**
 * One page of a post's comments. Live comments, plus deleted ones that still have live replies (the caller
 * shows those as tombstones). Top level: newest first (ties: higher id first); replies: oldest first (ties:
 * lower id first), the order a thread is read in.
 */
export function listComments(db: Q, q: CommentListQuery): Promise<ListedComment[]> {
  let query = db
    .selectFrom('comments as c')
    .selectAll('c')
    .select(positionText('c.created_at').as('position_at'))
    .where('c.post_id', '=', q.postId)
    .where((eb) => eb.or([eb('c.deleted_at', 'is', null), eb('c.reply_count', '>', 0)]));
  query = q.parentId === null ? query.where('c.parent_id', 'is', null) : query.where('c.parent_id', '=', q.parentId);
  if (q.excludeAuthorIds.length > 0) query = query.where('c.author_id', 'not in', [...q.excludeAuthorIds]);
  const newestFirst = q.parentId === null;
  if (q.after) {
    const { at, id } = q.after;
    query = newestFirst
      ? query.where(sql<boolean>`(c.created_at, c.id) < (${at}::timestamptz, ${id}::uuid)`)
      : query.where(sql<boolean>`(c.created_at, c.id) > (${at}::timestamptz, ${id}::uuid)`);
  }
  const dir = newestFirst ? 'desc' : 'asc';
  return query.orderBy('c.created_at', dir).orderBy('c.id', dir).limit(q.limit).execute();
}

export async function insertCommentLike(db: Q, commentId: string, userId: string): Promise<boolean> {
  const row = await db
    .insertInto('comment_likes')
    .values({ comment_id: commentId, user_id: userId })
    .onConflict((oc) => oc.columns(['comment_id', 'user_id']).doNothing())
    .returning('created_at')
    .executeTakeFirst();
  return row !== undefined;
}

export async function deleteCommentLike(db: Q, commentId: string, userId: string): Promise<boolean> {
  const row = await db.deleteFrom('comment_likes').where('comment_id', '=', commentId).where('user_id', '=', userId).returning('created_at').executeTakeFirst();
  return row !== undefined;
}

/** Which of these comments the user likes. */
export async function likedByUser(db: Q, commentIds: readonly string[], userId: string): Promise<Set<string>> {
  if (commentIds.length === 0) return new Set();
  const rows = await db.selectFrom('comment_likes').select('comment_id').where('user_id', '=', userId).where('comment_id', 'in', [...commentIds]).execute();
  return new Set(rows.map((r) => r.comment_id));
}

/** Removes every comment like a user made (optionally only on comments written by `authorId`), correcting the counters. */
export async function removeCommentLikesBy(db: Q, userId: string, authorId?: string): Promise<void> {
  let locked = db.selectFrom('comment_likes as l').innerJoin('comments as c', 'c.id', 'l.comment_id').select('c.id').where('l.user_id', '=', userId);
  if (authorId !== undefined) locked = locked.where('c.author_id', '=', authorId);
  const ids = (await locked.orderBy('c.id').forNoKeyUpdate('c').execute()).map((r) => r.id);
  if (ids.length === 0) return;
  await db.deleteFrom('comment_likes').where('user_id', '=', userId).where('comment_id', 'in', ids).execute();
  await bumpCommentCounter(db, ids, 'like_count', -1);
}

/**
 * Soft-deletes every live comment of an author (deleted_by = `deletedBy`) and corrects the counters: the
 * post's comment_count and the parent's reply_count, for each comment that really changed.
 */
export async function softDeleteCommentsBy(db: Q, authorId: string, deletedBy: string): Promise<CommentRow[]> {
  // The posts' rows first, in id order: every path that changes comment counters locks the post before its comments.
  await db
    .selectFrom('posts')
    .select('id')
    .where('id', 'in', (eb) => eb.selectFrom('comments').select('post_id').where('author_id', '=', authorId).where('deleted_at', 'is', null))
    .orderBy('id')
    .forNoKeyUpdate()
    .execute();
  const rows = await db
    .updateTable('comments')
    .set({ deleted_at: sql`clock_timestamp()`, deleted_by: deletedBy })
    .where('author_id', '=', authorId)
    .where('deleted_at', 'is', null)
    .returningAll()
    .execute();
  await applyDeletedCounters(db, rows);
  return rows;
}

/** Counter corrections for comments that were just soft-deleted (several may share a post or a parent). */
export async function applyDeletedCounters(db: Q, rows: readonly CommentRow[]): Promise<void> {
  const byPost = tally(rows.map((r) => r.post_id));
  const byParent = tally(rows.flatMap((r) => (r.parent_id === null ? [] : [r.parent_id])));
  for (const [id, n] of byPost) await bumpPostComments(db, [id], -n);
  for (const [id, n] of byParent) await bumpCommentCounter(db, [id], 'reply_count', -n);
}

function tally(ids: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const id of ids.sort()) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
}
