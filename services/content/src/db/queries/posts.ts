import { sql, type DbOrTx, type Insertable, type Selectable } from '@nova/platform';
import type { ContentDb, PostEditsTable, PostsTable, PostVisibility } from '../schema.js';

type Q = DbOrTx<ContentDb>;
export type PostRow = Selectable<PostsTable>;
export type PostEditRow = Selectable<PostEditsTable>;

/** Where a newest-first post list resumes: the (created_at, id) of the last row of the previous page. */
export interface PostKey {
  /** RFC 3339 with microseconds, UTC (a JS Date would lose them). */
  at: string;
  id: string;
}

/** A post row plus its list position (microsecond timestamp text, for cursors). */
export type ListedPost = PostRow & { position_at: string };

const positionText = (column: string) => sql<string>`to_char(${sql.ref(column)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** A post whatever its state (deleted too: callers apply visibility, which hides deleted posts). */
export function findPost(db: Q, id: string): Promise<PostRow | undefined> {
  return db.selectFrom('posts').selectAll().where('id', '=', id).executeTakeFirst();
}

export function findPosts(db: Q, ids: readonly string[]): Promise<PostRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db.selectFrom('posts').selectAll().where('id', 'in', [...ids]).execute();
}

export function lockPost(db: Q, id: string): Promise<PostRow | undefined> {
  return db.selectFrom('posts').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export function findByIdempotencyKey(db: Q, authorId: string, key: string): Promise<PostRow | undefined> {
  return db.selectFrom('posts').selectAll().where('author_id', '=', authorId).where('idempotency_key', '=', key).executeTakeFirst();
}

/** Inserts a post; undefined when the author already has a post with this idempotency key. */
export function insertPost(db: Q, post: Insertable<PostsTable>): Promise<PostRow | undefined> {
  return db
    .insertInto('posts')
    .values(post)
    .onConflict((oc) => oc.columns(['author_id', 'idempotency_key']).where('idempotency_key', 'is not', null).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function insertTags(db: Q, postId: string, tags: readonly string[], createdAt: Date): Promise<void> {
  if (tags.length === 0) return;
  await db.insertInto('post_hashtags').values(tags.map((tag) => ({ post_id: postId, tag, created_at: createdAt }))).onConflict((oc) => oc.doNothing()).execute();
}

export async function insertMentions(db: Q, postId: string, userIds: readonly string[]): Promise<void> {
  if (userIds.length === 0) return;
  await db.insertInto('post_mentions').values(userIds.map((user_id) => ({ post_id: postId, user_id }))).onConflict((oc) => oc.doNothing()).execute();
}

export async function replaceTagsAndMentions(db: Q, postId: string, tags: readonly string[], mentions: readonly string[], createdAt: Date): Promise<void> {
  await db.deleteFrom('post_hashtags').where('post_id', '=', postId).execute();
  await db.deleteFrom('post_mentions').where('post_id', '=', postId).execute();
  await insertTags(db, postId, tags, createdAt);
  await insertMentions(db, postId, mentions);
}

/** Hashtags and mentioned user ids of each post. */
export async function tagsAndMentions(db: Q, postIds: readonly string[]): Promise<{ tags: Map<string, string[]>; mentions: Map<string, string[]> }> {
  const tags = new Map<string, string[]>();
  const mentions = new Map<string, string[]>();
  if (postIds.length === 0) return { tags, mentions };
  const [t, m] = await Promise.all([
    db.selectFrom('post_hashtags').select(['post_id', 'tag']).where('post_id', 'in', [...postIds]).orderBy('tag').execute(),
    db.selectFrom('post_mentions').select(['post_id', 'user_id']).where('post_id', 'in', [...postIds]).orderBy('user_id').execute(),
  ]);
  for (const r of t) tags.set(r.post_id, [...(tags.get(r.post_id) ?? []), r.tag]);
  for (const r of m) mentions.set(r.post_id, [...(mentions.get(r.post_id) ?? []), r.user_id]);
  return { tags, mentions };
}

/** Which of `postIds` the user liked, bookmarked and reposted. */
export async function viewerFlags(db: Q, userId: string, postIds: readonly string[]): Promise<{ liked: Set<string>; bookmarked: Set<string>; reposted: Set<string> }> {
  if (postIds.length === 0) return { liked: new Set(), bookmarked: new Set(), reposted: new Set() };
  const of = (table: 'likes' | 'bookmarks' | 'reposts') =>
    db.selectFrom(table).select('post_id').where('user_id', '=', userId).where('post_id', 'in', [...postIds]).execute().then((rows) => new Set(rows.map((r) => r.post_id)));
  const [liked, bookmarked, reposted] = await Promise.all([of('likes'), of('bookmarks'), of('reposts')]);
  return { liked, bookmarked, reposted };
}

export function updatePost(db: Q, id: string, changes: { text?: string; visibility?: PostVisibility }, at: Date): Promise<PostRow> {
  return db.updateTable('posts').set({ ...changes, edited_at: at, updated_at: at }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
}

export async function insertEdit(db: Q, edit: Insertable<PostEditsTable>): Promise<void> {
  await db.insertInto('post_edits').values(edit).execute();
}

/** The previous versions of a post, newest first. */
export function listEdits(db: Q, postId: string): Promise<PostEditRow[]> {
  return db.selectFrom('post_edits').selectAll().where('post_id', '=', postId).orderBy('edited_at', 'desc').orderBy('id', 'desc').execute();
}

export function softDeletePost(db: Q, id: string, by: string, at: Date): Promise<PostRow | undefined> {
  return db.updateTable('posts').set({ deleted_at: at, deleted_by: by, updated_at: at }).where('id', '=', id).where('deleted_at', 'is', null).returningAll().executeTakeFirst();
}

/** Adds `delta` to a live post's quote_count (never below zero). */
export async function bumpQuoteCount(db: Q, postId: string, delta: number): Promise<void> {
  await db.updateTable('posts').set({ quote_count: sql`GREATEST(quote_count + ${delta}, 0)` }).where('id', '=', postId).execute();
}

const after = (col: string, idCol: string, key: PostKey | undefined) =>
  key ? sql<boolean>`(${sql.ref(col)}, ${sql.ref(idCol)}) < (${key.at}::timestamptz, ${key.id}::uuid)` : sql<boolean>`true`;

/** A user's live posts, newest first (posts_author_idx), from after `key`. */
export function authorPostsPage(db: Q, authorId: string, limit: number, key?: PostKey): Promise<ListedPost[]> {
  return db
    .selectFrom('posts')
    .selectAll()
    .select(positionText('created_at').as('position_at'))
    .where('author_id', '=', authorId)
    .where('deleted_at', 'is', null)
    .where(after('created_at', 'id', key))
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}

/** Live posts carrying a hashtag, newest first (post_hashtags_tag_idx), from after `key`. */
export function hashtagPostsPage(db: Q, tag: string, limit: number, key?: PostKey): Promise<ListedPost[]> {
  return db
    .selectFrom('post_hashtags as h')
    .innerJoin('posts as p', 'p.id', 'h.post_id')
    .selectAll('p')
    .select(positionText('h.created_at').as('position_at'))
    .where('h.tag', '=', tag)
    .where('p.deleted_at', 'is', null)
    .where(after('h.created_at', 'h.post_id', key))
    .orderBy('h.created_at', 'desc')
    .orderBy('h.post_id', 'desc')
    .limit(limit)
    .execute();
}
