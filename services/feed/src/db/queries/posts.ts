import { sql, type Kysely, type Transaction } from '@nova/platform';
import type { FeedDb, PostVisibility } from '../schema.js';

type Db = Kysely<FeedDb> | Transaction<FeedDb>;

export interface NewPost {
  id: string;
  authorId: string;
  visibility: PostVisibility;
  isReply: boolean;
  hashtags: string[];
  createdAt: Date;
}

/** Inserts a post once (a redelivered or replayed PostCreated changes nothing); true when it was new. */
export async function insertPost(db: Db, p: NewPost): Promise<boolean> {
  const row = await db
    .insertInto('posts')
    .values({ id: p.id, author_id: p.authorId, visibility: p.visibility, is_reply: p.isReply, hashtags: p.hashtags, created_at: p.createdAt })
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function updatePost(db: Db, id: string, changes: { visibility: PostVisibility; hashtags: string[] }): Promise<void> {
  await db.updateTable('posts').set(changes).where('id', '=', id).execute();
}

export async function markDeleted(db: Db, id: string, at: Date): Promise<void> {
  await db.updateTable('posts').set({ deleted_at: at }).where('id', '=', id).where('deleted_at', 'is', null).execute();
}

export type Counter = 'like_count' | 'comment_count' | 'repost_count';

export async function bumpCounter(db: Db, id: string, counter: Counter, delta: number): Promise<void> {
  await db
    .updateTable('posts')
    .set(counter, sql`greatest(${sql.ref(counter)} + ${delta}::int, 0)`)
    .where('id', '=', id)
    .execute();
}

export async function insertRepost(db: Db, userId: string, postId: string, at: Date): Promise<boolean> {
  const row = await db.insertInto('reposts').values({ user_id: userId, post_id: postId, created_at: at }).onConflict((oc) => oc.doNothing()).returning('post_id').executeTakeFirst();
  return row !== undefined;
}

export async function deleteRepost(db: Db, userId: string, postId: string): Promise<boolean> {
  const row = await db.deleteFrom('reposts').where('user_id', '=', userId).where('post_id', '=', postId).returning('post_id').executeTakeFirst();
  return row !== undefined;
}

/** Adds to a reader's affinity for an author on the day of `at` (likes or comments; negative to undo). */
export async function bumpAffinity(db: Db, viewerId: string, authorId: string, at: Date, change: { likes?: number; comments?: number }): Promise<void> {
  const likes = change.likes ?? 0;
  const comments = change.comments ?? 0;
  await sql`
    INSERT INTO feed.affinity (viewer_id, author_id, day, likes, comments)
    VALUES (${viewerId}, ${authorId}, (${at.toISOString()}::timestamptz AT TIME ZONE 'UTC')::date, greatest(${likes}::int, 0), greatest(${comments}::int, 0))
    ON CONFLICT (viewer_id, author_id, day) DO UPDATE
    SET likes = greatest(feed.affinity.likes + ${likes}::int, 0), comments = greatest(feed.affinity.comments + ${comments}::int, 0)`.execute(db);
}

/** The newest live, non-reply posts of an author that may enter followers' timelines (for a new follow). */
export async function recentTimelinePosts(db: Db, authorId: string, limit: number): Promise<{ id: string; created_at: Date }[]> {
  if (limit === 0) return [];
  return db
    .selectFrom('posts')
    .select(['id', 'created_at'])
    .where('author_id', '=', authorId)
    .where('deleted_at', 'is', null)
    .where('is_reply', '=', false)
    .where('visibility', '<>', 'private')
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}
