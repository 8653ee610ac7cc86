import { AppError, decodePosition, encodePosition, newId, roleAtLeast, type AuthIdentity } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as pq from '../db/queries/posts.js';
import type { PostVisibility } from '../db/schema.js';
import { extractHashtags, extractMentions, normaliseTag } from './text.js';
import { assertCanSeePost, visiblePosts, type Viewer } from './visibility.js';

export const MAX_TEXT = 2200;
export const MAX_MEDIA = 10;
export const MAX_IDEMPOTENCY_KEY = 100;
/** Post text: anything but NUL, which PostgreSQL text cannot hold. */
export const TEXT_PATTERN = '^[^\\u0000]*$';

export interface RequestMeta {
  correlationId?: string | null;
}

/** A post as the API shows it: the row, its hashtags and mentions, and what the viewer did to it. */
export interface PostView {
  post: pq.PostRow;
  hashtags: string[];
  mentions: string[];
  liked: boolean;
  bookmarked: boolean;
  reposted: boolean;
}

export interface NewPost {
  text?: string | undefined;
  media_ids?: string[] | undefined;
  visibility: PostVisibility;
  reply_to?: string | undefined;
  quote_of?: string | undefined;
}

/** Hashtags and mentioned user ids of a text (unknown usernames are dropped; the author may mention themselves). */
async function extract(ctx: AppContext, text: string): Promise<{ hashtags: string[]; mentions: string[] }> {
  const hashtags = extractHashtags(text);
  const names = extractMentions(text);
  const found = names.length === 0 ? new Map() : await ctx.users.profilesByUsernames(names);
  const mentions = [...new Set(names.flatMap((n) => (found.has(n) ? [found.get(n)!.id] : [])))];
  return { hashtags, mentions };
}

/** The referenced post, if the author may see it; NOT_FOUND (naming the field) otherwise. */
async function referenced(ctx: AppContext, viewer: Viewer, id: string, field: string): Promise<void> {
  const post = await pq.findPost(ctx.db, id.toLowerCase());
  try {
    await assertCanSeePost(ctx, viewer, post);
  } catch (err) {
    if (err instanceof AppError && err.code === 'NOT_FOUND') throw new AppError('NOT_FOUND', `${field}: post not found`, { details: { field } });
    throw err;
  }
}

/**
 * Creates a post. With an idempotency key, a retry by the same author returns the post the first call made
 * (`created: false`), whatever the body of the retry; two concurrent calls with the same key make one post.
 * reply_to and quote_of must be posts the author can see (404 otherwise); a quote adds one to the quoted
 * post's quote_count. PostCreated goes out in the same transaction.
 */
export async function createPost(ctx: AppContext, author: AuthIdentity, input: NewPost, idempotencyKey: string | undefined, meta: RequestMeta): Promise<{ view: PostView; created: boolean }> {
  const authorId = author.userId;
  if (idempotencyKey !== undefined) {
    const existing = await pq.findByIdempotencyKey(ctx.db, authorId, idempotencyKey);
    if (existing) return { view: await existingFor(ctx, author, existing), created: false };
  }
  const text = input.text ?? '';
  const mediaIds = [...new Set((input.media_ids ?? []).map((m) => m.toLowerCase()))];
  if (text.trim().length === 0 && mediaIds.length === 0) throw new AppError('VALIDATION_FAILED', 'a post needs text or media', { details: { field: 'text' } });
  const viewer: Viewer = { userId: authorId, role: author.role };
  if (input.reply_to !== undefined) await referenced(ctx, viewer, input.reply_to, 'reply_to');
  if (input.quote_of !== undefined) await referenced(ctx, viewer, input.quote_of, 'quote_of');
  const { hashtags, mentions } = await extract(ctx, text);

  const outcome = await ctx.db.transaction().execute(async (tx) => {
    const post = await pq.insertPost(tx, {
      id: newId(),
      author_id: authorId,
      text,
      media_ids: mediaIds,
      visibility: input.visibility,
      reply_to_id: input.reply_to?.toLowerCase() ?? null,
      quote_of_id: input.quote_of?.toLowerCase() ?? null,
      idempotency_key: idempotencyKey ?? null,
    });
    if (!post) return undefined;
    await pq.insertTags(tx, post.id, hashtags, post.created_at);
    await pq.insertMentions(tx, post.id, mentions);
    if (post.quote_of_id) await pq.bumpQuoteCount(tx, post.quote_of_id, 1);
    await ctx.outbox.add(tx, {
      aggregate: 'post',
      action: 'created',
      type: 'PostCreated',
      entityId: post.id,
      data: {
        post_id: post.id,
        author_id: authorId,
        visibility: post.visibility,
        hashtags,
        mentions,
        reply_to: post.reply_to_id,
        quote_of: post.quote_of_id,
        media_ids: post.media_ids,
        created_at: post.created_at.toISOString(),
      },
      correlationId: meta.correlationId ?? null,
    });
    return post;
  });
  if (!outcome) {
    // Another request with the same key won the race: its post is the answer.
    const existing = await pq.findByIdempotencyKey(ctx.db, authorId, idempotencyKey!);
    if (!existing) throw new AppError('CONFLICT', 'a request with this Idempotency-Key is still in progress');
    return { view: await existingFor(ctx, author, existing), created: false };
  }
  return { view: (await hydrate(ctx, { userId: authorId }, [outcome]))[0]!, created: true };
}

async function existingFor(ctx: AppContext, author: AuthIdentity, post: pq.PostRow): Promise<PostView> {
  if (post.deleted_at !== null) throw new AppError('CONFLICT', 'this Idempotency-Key made a post that has since been deleted', { details: { field: 'Idempotency-Key' } });
  return (await hydrate(ctx, { userId: author.userId }, [post]))[0]!;
}

/** Hashtags, mentions and viewer flags for posts already known to be visible. */
export async function hydrate(ctx: AppContext, viewer: Viewer | undefined, posts: readonly pq.PostRow[]): Promise<PostView[]> {
  const ids = posts.map((p) => p.id);
  const [{ tags, mentions }, flags] = await Promise.all([
    pq.tagsAndMentions(ctx.db, ids),
    viewer?.userId ? pq.viewerFlags(ctx.db, viewer.userId, ids) : Promise.resolve(undefined),
  ]);
  return posts.map((post) => ({
    post,
    hashtags: tags.get(post.id) ?? [],
    mentions: mentions.get(post.id) ?? [],
    liked: flags?.liked.has(post.id) ?? false,
    bookmarked: flags?.bookmarked.has(post.id) ?? false,
    reposted: flags?.reposted.has(post.id) ?? false,
  }));
}

/** A post the viewer may see; NOT_FOUND otherwise (missing, deleted, hidden alike). */
export async function getPost(ctx: AppContext, viewer: Viewer | undefined, id: string): Promise<PostView> {
  const post = await pq.findPost(ctx.db, id.toLowerCase());
  await assertCanSeePost(ctx, viewer, post);
  return (await hydrate(ctx, viewer, [post!]))[0]!;
}

/**
 * Edits text and/or visibility (author only: anyone else gets the 404 a hidden post gets, or 403 when they
 * can see it). The version being replaced goes to post_edits; hashtags and mentions follow the new text.
 * Nothing changes (no edit kept, no event) when the values are the same.
 */
export async function editPost(ctx: AppContext, caller: AuthIdentity, id: string, changes: { text?: string | undefined; visibility?: PostVisibility | undefined }, meta: RequestMeta): Promise<PostView> {
  const viewer: Viewer = { userId: caller.userId, role: caller.role };
  const current = await pq.findPost(ctx.db, id.toLowerCase());
  await assertCanSeePost(ctx, viewer, current);
  if (current!.author_id !== caller.userId) throw new AppError('FORBIDDEN', 'only the author may edit a post');
  const extracted = changes.text !== undefined ? await extract(ctx, changes.text) : undefined;

  const post = await ctx.db.transaction().execute(async (tx) => {
    const before = await pq.lockPost(tx, current!.id);
    if (!before || before.deleted_at !== null) throw new AppError('NOT_FOUND', 'post not found');
    const text = changes.text ?? before.text;
    const visibility = changes.visibility ?? before.visibility;
    if (text === before.text && visibility === before.visibility) return before;
    if (text.trim().length === 0 && before.media_ids.length === 0) throw new AppError('VALIDATION_FAILED', 'a post needs text or media', { details: { field: 'text' } });
    const at = new Date();
    await pq.insertEdit(tx, { id: newId(), post_id: before.id, text: before.text, visibility: before.visibility, edited_at: at });
    const after = await pq.updatePost(tx, before.id, { text, visibility }, at);
    if (extracted && text !== before.text) await pq.replaceTagsAndMentions(tx, before.id, extracted.hashtags, extracted.mentions, before.created_at);
    const { tags, mentions } = await pq.tagsAndMentions(tx, [before.id]);
    await ctx.outbox.add(tx, {
      aggregate: 'post',
      action: 'updated',
      type: 'PostUpdated',
      entityId: before.id,
      data: {
        post_id: before.id,
        author_id: before.author_id,
        visibility,
        previous_visibility: before.visibility,
        text_changed: text !== before.text,
        hashtags: tags.get(before.id) ?? [],
        mentions: mentions.get(before.id) ?? [],
        edited_at: at.toISOString(),
      },
      correlationId: meta.correlationId ?? null,
    });
    return after;
  });
  return (await hydrate(ctx, viewer, [post]))[0]!;
}

export interface PostVersion {
  text: string;
  visibility: PostVisibility;
  /** When this version became current. */
  since: Date;
  /** When an edit replaced it; null for the current version. */
  until: Date | null;
}

/** Every version of a post, the current one first (to whoever can see the post). */
export async function postHistory(ctx: AppContext, viewer: Viewer | undefined, id: string): Promise<PostVersion[]> {
  const post = await pq.findPost(ctx.db, id.toLowerCase());
  await assertCanSeePost(ctx, viewer, post);
  const edits = await pq.listEdits(ctx.db, post!.id);
  const versions: PostVersion[] = [{ text: post!.text, visibility: post!.visibility, since: post!.edited_at ?? post!.created_at, until: null }];
  edits.forEach((e, i) => {
    versions.push({ text: e.text, visibility: e.visibility, since: edits[i + 1]?.edited_at ?? post!.created_at, until: e.edited_at });
  });
  return versions;
}

/**
 * Soft-deletes a post (deleted_by = the caller): its author, or a moderator/admin whatever the post's
 * audience. Anyone else: 403 when they can see the post, 404 when they cannot. A deleted quote gives its
 * quote_count back. PostDeleted in the same transaction.
 */
export async function deletePost(ctx: AppContext, caller: AuthIdentity, id: string, meta: RequestMeta): Promise<void> {
  const postId = id.toLowerCase();
  const current = await pq.findPost(ctx.db, postId);
  const moderator = roleAtLeast(caller.role, 'moderator');
  if (!current || current.deleted_at !== null) throw new AppError('NOT_FOUND', 'post not found');
  if (current.author_id !== caller.userId && !moderator) {
    await assertCanSeePost(ctx, { userId: caller.userId, role: caller.role }, current);
    throw new AppError('FORBIDDEN', 'only the author or a moderator may delete a post');
  }
  await ctx.db.transaction().execute(async (tx) => {
    const post = await pq.softDeletePost(tx, postId, caller.userId, new Date());
    if (!post) throw new AppError('NOT_FOUND', 'post not found');
    if (post.quote_of_id) await pq.bumpQuoteCount(tx, post.quote_of_id, -1);
    await ctx.outbox.add(tx, {
      aggregate: 'post',
      action: 'deleted',
      type: 'PostDeleted',
      entityId: post.id,
      data: { post_id: post.id, author_id: post.author_id, deleted_by: caller.userId, by_moderator: post.author_id !== caller.userId },
      correlationId: meta.correlationId ?? null,
    });
  });
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** Most rounds a visibility-filtered page reads before answering with what it has (and a cursor). */
const MAX_ROUNDS = 5;

/**
 * A newest-first page of posts the viewer may see. Rows are read in batches and filtered; the cursor is the
 * position of the last row READ, so hidden rows are never read twice. A page may hold fewer than `limit`
 * items and still have a next_cursor when many rows in a row are hidden.
 */
async function visiblePage(
  ctx: AppContext,
  viewer: Viewer | undefined,
  limit: number,
  cursor: string | undefined,
  read: (limit: number, key: pq.PostKey | undefined) => Promise<pq.ListedPost[]>,
): Promise<Page<PostView>> {
  let key = decodePosition(cursor);
  const out: pq.PostRow[] = [];
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const want = limit - out.length;
    const rows = await read(want + 1, key);
    const taken = rows.slice(0, want);
    const visible = await visiblePosts(ctx, viewer, taken);
    out.push(...visible);
    const last = taken.at(-1);
    if (last) key = { at: last.position_at, id: last.id };
    if (rows.length <= want) return { items: await hydrate(ctx, viewer, out), next_cursor: null };
    if (out.length >= limit) break;
  }
  return { items: await hydrate(ctx, viewer, out), next_cursor: key ? encodePosition(key.at, key.id) : null };
}

/** A user's posts the viewer may see, newest first. */
export function userPosts(ctx: AppContext, viewer: Viewer | undefined, authorId: string, limit: number, cursor?: string): Promise<Page<PostView>> {
  const author = authorId.toLowerCase();
  return visiblePage(ctx, viewer, limit, cursor, (n, key) => pq.authorPostsPage(ctx.db, author, n, key));
}

/** Posts with a hashtag the viewer may see, newest first. An impossible tag is a validation error. */
export function hashtagPosts(ctx: AppContext, viewer: Viewer | undefined, rawTag: string, limit: number, cursor?: string): Promise<Page<PostView>> {
  const tag = normaliseTag(rawTag);
  if (tag === undefined) throw new AppError('VALIDATION_FAILED', 'a hashtag is 1-100 letters, digits or underscores', { details: { field: 'tag' } });
  return visiblePage(ctx, viewer, limit, cursor, (n, key) => pq.hashtagPostsPage(ctx.db, tag, n, key));
}
