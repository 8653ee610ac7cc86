import { AppError, decodePosition, encodePosition, newId, roleAtLeast, type Role, type Tx } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as cq from '../db/queries/comments.js';
import type { ContentDb } from '../db/schema.js';
import { callerId, lockPost, mustBeLive, normaliseId, pageSize, seePost, type PageRequest, type RequestMeta } from './reactions.js';
import type { Viewer } from './visibility.js';

type Db = Tx<ContentDb>;

export const MAX_COMMENT_LENGTH = 2200;

/** A comment as a viewer sees it; a tombstone (deleted, with live replies) has neither text nor author. */
export interface CommentView {
  id: string;
  post_id: string;
  parent_id: string | null;
  deleted: boolean;
  text: string | null;
  author: { id: string; username: string } | null;
  like_count: number;
  reply_count: number;
  liked_by_me: boolean;
  created_at: string;
}

const commentNotFound = () => new AppError('NOT_FOUND', 'comment not found');

/** A comment that a viewer may act on: live, on a post they can see, by an author not blocked with them. */
async function seeComment(ctx: AppContext, viewer: Viewer, commentId: string): Promise<cq.CommentRow> {
  const comment = await cq.findComment(ctx.db, normaliseId(commentId));
  if (!comment || comment.deleted_at !== null) throw commentNotFound();
  try {
    await seePost(ctx, viewer, comment.post_id);
  } catch (err) {
    if (err instanceof AppError && err.code === 'NOT_FOUND') throw commentNotFound();
    throw err;
  }
  const me = callerId(viewer);
  if (comment.author_id !== me && (await ctx.users.isBlocked(me, comment.author_id))) throw commentNotFound();
  return comment;
}

function toView(c: cq.CommentRow, username: string | undefined, liked: boolean): CommentView {
  const tombstone = c.deleted_at !== null;
  return {
    id: c.id,
    post_id: c.post_id,
    parent_id: c.parent_id,
    deleted: tombstone,
    text: tombstone ? null : c.text,
    author: tombstone || username === undefined ? null : { id: c.author_id, username },
    like_count: tombstone ? 0 : c.like_count,
    reply_count: c.reply_count,
    liked_by_me: !tombstone && liked,
    created_at: c.created_at.toISOString(),
  };
}

/**
 * Comments on a post the caller can see, or replies to one of its live comments (`parentId`): the parent
 * must be a live comment of the same post whose author is not blocked with the caller (404 otherwise). In
 * one transaction, with the post's row locked first (every change of its comment counters takes that lock,
 * so counts stay exact under concurrency): the comment, comment_count + 1, the parent's reply_count + 1,
 * and CommentCreated.
 */
export async function createComment(ctx: AppContext, viewer: Viewer, postId: string, input: { text: string; parent_id?: string | undefined }, meta: RequestMeta): Promise<CommentView> {
  const me = callerId(viewer);
  const text = input.text;
  if (text.trim().length === 0) throw new AppError('VALIDATION_FAILED', 'text must not be blank', { details: { field: 'text' } });
  if ([...text].length > MAX_COMMENT_LENGTH) throw new AppError('VALIDATION_FAILED', `text is longer than ${MAX_COMMENT_LENGTH} characters`, { details: { field: 'text' } });
  const post = await seePost(ctx, viewer, postId);
  const parentId = input.parent_id === undefined ? null : normaliseId(input.parent_id);
  const parentNotFound = () => new AppError('NOT_FOUND', 'parent comment not found', { details: { field: 'parent_id' } });
  if (parentId !== null) {
    const parent = await cq.findComment(ctx.db, parentId);
    if (!parent || parent.post_id !== post.id || parent.deleted_at !== null) throw parentNotFound();
    if (parent.author_id !== me && (await ctx.users.isBlocked(me, parent.author_id))) throw parentNotFound();
  }
  const row = await ctx.db.transaction().execute(async (tx) => {
    const locked = await lockPost(tx, post.id);
    if (!locked) throw new AppError('NOT_FOUND', 'post not found');
    mustBeLive(locked);
    let parentAuthor: string | null = null;
    if (parentId !== null) {
      const parent = await cq.lockComment(tx, parentId);
      if (!parent || parent.deleted_at !== null) throw parentNotFound();
      parentAuthor = parent.author_id;
    }
    const comment = await cq.insertComment(tx, { id: newId(), postId: post.id, authorId: me, parentId, text });
    await cq.bumpPostComments(tx, [post.id], 1);
    if (parentId !== null) await cq.bumpCommentCounter(tx, [parentId], 'reply_count', 1);
    await ctx.outbox.add(tx, {
      aggregate: 'comment',
      action: 'created',
      type: 'CommentCreated',
      entityId: comment.id,
      data: { comment_id: comment.id, post_id: post.id, post_author_id: post.author_id, author_id: me, parent_id: parentId, parent_author_id: parentAuthor, text },
      correlationId: meta.correlationId ?? null,
    });
    return comment;
  });
  const profile = await ctx.users.profile(me).catch(() => undefined);
  return toView(row, profile?.username, false);
}

/**
 * Soft-deletes a comment (deleted_by = the caller). Allowed to its author, to the post's author and to
 * moderators and admins; anyone else gets 403 when they can see the comment, 404 when not. Replies stay:
 * the comment becomes a tombstone while it has live replies. comment_count - 1, the parent's reply_count - 1
 * and CommentDeleted, all only when the comment really was live. A deleted comment answers 404.
 */
export async function deleteComment(ctx: AppContext, caller: { userId: string; role: Role }, commentId: string, meta: RequestMeta): Promise<void> {
  const me = normaliseId(caller.userId);
  const id = normaliseId(commentId);
  const comment = await cq.findComment(ctx.db, id);
  if (!comment || comment.deleted_at !== null) throw commentNotFound();
  const postAuthor = (await ctx.db.selectFrom('posts').select('author_id').where('id', '=', comment.post_id).executeTakeFirstOrThrow()).author_id;
  const asModerator = roleAtLeast(caller.role, 'moderator');
  if (comment.author_id !== me && postAuthor !== me && !asModerator) {
    await seeComment(ctx, { userId: me, role: caller.role }, id);
    throw new AppError('FORBIDDEN', "only the comment's author, the post's author or a moderator may delete it");
  }
  await ctx.db.transaction().execute(async (tx) => {
    await lockPost(tx, comment.post_id);
    const deleted = await cq.softDeleteComment(tx, id, me);
    if (!deleted) throw commentNotFound();
    await cq.applyDeletedCounters(tx, [deleted]);
    await commentDeletedEvent(ctx, tx, deleted, postAuthor, me, meta);
  });
}

export function commentDeletedEvent(ctx: AppContext, tx: Db, c: cq.CommentRow, postAuthor: string, deletedBy: string, meta: RequestMeta) {
  return ctx.outbox.add(tx, {
    aggregate: 'comment',
    action: 'deleted',
    type: 'CommentDeleted',
    entityId: c.id,
    data: { comment_id: c.id, post_id: c.post_id, post_author_id: postAuthor, author_id: c.author_id, parent_id: c.parent_id, deleted_by: deletedBy },
    correlationId: meta.correlationId ?? null,
  });
}

/**
 * A page of a post's comments: top level (newest first) or the replies of one comment (`parentId`, oldest
 * first — the order a thread is read in). Deleted comments are hidden, except those with live replies, shown
 * as tombstones (deleted: true, no text, no author). Comments by people blocked by or blocking the viewer are
 * left out (tombstones included), and so are those whose author's account is gone. A page may hold fewer
 * than `limit` comments while `next_cursor` says more follow.
 */
export async function listComments(
  ctx: AppContext,
  viewer: Viewer | undefined,
  postId: string,
  req: PageRequest & { parent_id?: string | undefined },
): Promise<{ comments: CommentView[]; next_cursor: string | null }> {
  const limit = pageSize(req.limit);
  const after = decodePosition(req.cursor);
  const post = await seePost(ctx, viewer, postId);
  const viewerId = viewer?.userId === undefined ? undefined : normaliseId(viewer.userId);
  const blocked = viewerId === undefined ? new Set<string>() : await ctx.users.blockedEitherWay(viewerId);
  const parentId = req.parent_id === undefined ? null : normaliseId(req.parent_id);
  if (parentId !== null) {
    const parent = await cq.findComment(ctx.db, parentId);
    if (!parent || parent.post_id !== post.id || blocked.has(parent.author_id)) throw new AppError('NOT_FOUND', 'parent comment not found', { details: { field: 'parent_id' } });
  }
  const rows = await cq.listComments(ctx.db, { postId: post.id, parentId, excludeAuthorIds: [...blocked], after, limit: limit + 1 });
  const page = rows.slice(0, limit);
  const live = page.filter((c) => c.deleted_at === null);
  const [profiles, liked] = await Promise.all([
    ctx.users.profiles(live.map((c) => c.author_id)),
    viewerId === undefined ? Promise.resolve(new Set<string>()) : cq.likedByUser(ctx.db, live.map((c) => c.id), viewerId),
  ]);
  const comments = page
    .filter((c) => c.deleted_at !== null || profiles.has(c.author_id))
    .map((c) => toView(c, profiles.get(c.author_id)?.username, liked.has(c.id)));
  const last = page.at(-1);
  return { comments, next_cursor: rows.length > limit && last ? encodePosition(last.position_at, last.id) : null };
}

/**
 * Likes a comment the caller can see (live, on a visible post, by an author not blocked with them; 404
 * otherwise). Idempotent; like_count moves only when a like was added. No event: comment likes are not
 * announced (the event list has none).
 */
export async function likeComment(ctx: AppContext, viewer: Viewer, commentId: string): Promise<{ changed: boolean; like_count: number }> {
  const me = callerId(viewer);
  const comment = await seeComment(ctx, viewer, commentId);
  return ctx.db.transaction().execute(async (tx) => {
    const locked = await cq.lockComment(tx, comment.id);
    if (!locked || locked.deleted_at !== null) throw commentNotFound();
    const changed = await cq.insertCommentLike(tx, comment.id, me);
    if (changed) await cq.bumpCommentCounter(tx, [comment.id], 'like_count', 1);
    return { changed, like_count: locked.like_count + (changed ? 1 : 0) };
  });
}

/** Takes back the caller's like of a comment. Idempotent, whatever the comment's state. */
export async function unlikeComment(ctx: AppContext, viewer: Viewer, commentId: string): Promise<void> {
  const me = callerId(viewer);
  const id = normaliseId(commentId);
  await ctx.db.transaction().execute(async (tx) => {
    const locked = await cq.lockComment(tx, id);
    if (!locked) return;
    if (await cq.deleteCommentLike(tx, id, me)) await cq.bumpCommentCounter(tx, [id], 'like_count', -1);
  });
}
