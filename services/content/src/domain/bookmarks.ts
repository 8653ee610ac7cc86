import { decodePosition, encodePosition } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as rq from '../db/queries/reactions.js';
import { hydrate, type PostView } from './posts.js';
import { callerId, mustBeLive, normaliseId, pageSize, postCounters, seePost, setReaction, type PageRequest, type RequestMeta } from './reactions.js';
import { visiblePosts, type Viewer } from './visibility.js';

/**
 * Bookmarks a post the caller can see (404 otherwise). Bookmarks are private to their owner: no event is
 * recorded; only the post's bookmark_count (a number, no names) moves, and only when a bookmark was added.
 */
export async function bookmarkPost(ctx: AppContext, viewer: Viewer, postId: string) {
  const me = callerId(viewer);
  const post = await seePost(ctx, viewer, postId);
  const changed = await setReaction(ctx, 'bookmarks', me, post.id, true, {}, mustBeLive);
  return { changed, bookmarked: true as const, bookmark_count: (await postCounters(ctx, post.id)).bookmark_count };
}

/** Removes the caller's bookmark. Idempotent, whatever the post's state (a bookmark of a post gone invisible can be dropped). */
export async function unbookmarkPost(ctx: AppContext, viewer: Viewer, postId: string, meta: RequestMeta = {}): Promise<void> {
  await setReaction(ctx, 'bookmarks', callerId(viewer), normaliseId(postId), false, meta);
}

/** Most batches one page reads before answering with what it has (and a cursor). */
const MAX_ROUNDS = 5;

/**
 * The caller's bookmarks, newest bookmark first. Visibility is checked again at read time: bookmarked posts
 * that were deleted or that the caller may no longer see (a block, a post made private, an unfollow) are
 * left out but kept, and come back if they become visible again. The cursor is the position of the last
 * bookmark READ, so a page may hold fewer than `limit` posts and still have a next_cursor.
 */
export async function listBookmarks(ctx: AppContext, viewer: Viewer, req: PageRequest): Promise<{ items: (PostView & { bookmarked_at: Date })[]; next_cursor: string | null }> {
  const me = callerId(viewer);
  const limit = pageSize(req.limit);
  let after = decodePosition(req.cursor);
  const out: (rq.ListedReactionPost)[] = [];
  let more = true;
  for (let round = 0; round < MAX_ROUNDS && out.length < limit; round++) {
    const want = limit - out.length;
    const rows = await rq.listUserReactions(ctx.db, { table: 'bookmarks', userId: me, after, limit: want + 1 });
    const taken = rows.slice(0, want);
    out.push(...(await visiblePosts(ctx, viewer, taken)));
    const last = taken.at(-1);
    if (last) after = { at: last.position_at, id: last.id };
    more = rows.length > want;
    if (!more) break;
  }
  const views = await hydrate(ctx, viewer, out);
  return {
    items: views.map((v, i) => ({ ...v, bookmarked_at: out[i]!.reacted_at })),
    next_cursor: more && after ? encodePosition(after.at, after.id) : null,
  };
}
