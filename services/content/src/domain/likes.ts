import { decodePosition, encodePosition } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as rq from '../db/queries/reactions.js';
import { callerId, mustBeLive, normaliseId, pageSize, postCounters, seePost, setReaction, type PageRequest, type RequestMeta } from './reactions.js';
import type { Viewer } from './visibility.js';

/**
 * Likes a post the caller can see (404 otherwise, like a missing post). Idempotent: `changed` is false when
 * the like already existed; only a real change moves like_count and records PostLiked.
 */
export async function likePost(ctx: AppContext, viewer: Viewer, postId: string, meta: RequestMeta) {
  const me = callerId(viewer);
  const post = await seePost(ctx, viewer, postId);
  const changed = await setReaction(ctx, 'likes', me, post.id, true, meta, mustBeLive);
  return { changed, liked: true as const, like_count: (await postCounters(ctx, post.id)).like_count };
}

/**
 * Removes the caller's like. Idempotent, and it asks nothing about the post: the caller may always take back
 * their own like (even of a post they can no longer see); PostUnliked only when a like was removed.
 */
export async function unlikePost(ctx: AppContext, viewer: Viewer, postId: string, meta: RequestMeta): Promise<void> {
  await setReaction(ctx, 'likes', callerId(viewer), normaliseId(postId), false, meta);
}

export interface Liker {
  id: string;
  username: string;
  liked_at: string;
}

/**
 * Who liked a post the viewer can see, newest like first. Likers blocked by or blocking the viewer are left
 * out, and so are deleted accounts (absent from the user service); a page may then hold fewer than `limit`
 * entries while `next_cursor` still says that more follow.
 */
export async function listLikes(ctx: AppContext, viewer: Viewer | undefined, postId: string, req: PageRequest): Promise<{ users: Liker[]; next_cursor: string | null }> {
  const limit = pageSize(req.limit);
  const after = decodePosition(req.cursor);
  const post = await seePost(ctx, viewer, postId);
  const blocked = viewer?.userId === undefined ? new Set<string>() : await ctx.users.blockedEitherWay(normaliseId(viewer.userId));
  const rows = await rq.listPostReactors(ctx.db, { table: 'likes', postId: post.id, excludeUserIds: [...blocked], after, limit: limit + 1 });
  const page = rows.slice(0, limit);
  const profiles = await ctx.users.profiles(page.map((r) => r.user_id));
  const users: Liker[] = [];
  for (const r of page) {
    const p = profiles.get(r.user_id);
    if (p) users.push({ id: p.id, username: p.username, liked_at: r.created_at.toISOString() });
  }
  const last = page.at(-1);
  return { users, next_cursor: rows.length > limit && last ? encodePosition(last.position_at, last.user_id) : null };
}
