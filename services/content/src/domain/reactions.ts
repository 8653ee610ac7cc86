import { AppError, pageLimit, type Tx } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as rq from '../db/queries/reactions.js';
import type { ContentDb, PostVisibility } from '../db/schema.js';
import { assertCanSeePost, type Viewer } from './visibility.js';

type Db = Tx<ContentDb>;

/** What calls that write events take from the request. */
export interface RequestMeta {
  correlationId?: string | undefined;
}

/** Ids arrive from paths and tokens; uuids compare as text, so one spelling is used everywhere. */
export const normaliseId = (id: string): string => id.toLowerCase();

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export interface PageRequest {
  limit?: number | undefined;
  cursor?: string | undefined;
}

export const pageSize = (limit: number | undefined): number => pageLimit(limit, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);



/** The live post row, locked FOR NO KEY UPDATE: every change of its counters takes this lock first. */
export function lockPost(tx: Db, postId: string) {
  return tx.selectFrom('posts').select(['id', 'author_id', 'visibility', 'deleted_at']).where('id', '=', postId).forNoKeyUpdate().executeTakeFirst();
}

export interface ReactionPost {
  id: string;
  author_id: string;
  visibility: PostVisibility;
}

const EVENTS = {
  likes: { on: ['liked', 'PostLiked'], off: ['unliked', 'PostUnliked'] },
  reposts: { on: ['reposted', 'PostReposted'], off: ['unreposted', 'PostUnreposted'] },
  bookmarks: undefined,
} as const;

/**
 * Adds (`on`) or removes the caller's reaction to a post in one transaction: the post row is locked first,
 * the reaction row inserted (ON CONFLICT DO NOTHING) or deleted, and only when a row really changed does
 * the counter move and the event (likes, reposts) go into the outbox. `check` runs under the lock and
 * may refuse (a post deleted meanwhile, a repost of a non-public post). Returns whether anything changed.
 */
export async function setReaction(
  ctx: AppContext,
  table: rq.Reaction,
  userId: string,
  postId: string,
  on: boolean,
  meta: RequestMeta,
  check?: (post: ReactionPost & { deleted_at: Date | null }) => void,
): Promise<boolean> {
  return ctx.db.transaction().execute(async (tx) => {
    const post = await lockPost(tx, postId);
    if (!post) {
      if (on) throw new AppError('NOT_FOUND', 'post not found');
      return false;
    }
    check?.(post);
    const changed = on ? await rq.insertReaction(tx, table, postId, userId) : await rq.deleteReaction(tx, table, postId, userId);
    if (!changed) return false;
    await rq.bumpReactionCounter(tx, table, [postId], on ? 1 : -1);
    const events = EVENTS[table];
    if (events) {
      const [action, type] = on ? events.on : events.off;
      await ctx.outbox.add(tx, {
        aggregate: 'post',
        action,
        type,
        entityId: postId,
        data: { post_id: postId, user_id: userId, author_id: post.author_id },
        correlationId: meta.correlationId ?? null,
      });
    }
    return true;
  });
}

/** A post's current counters (after a reaction, so the client can show them). */
export async function postCounters(ctx: AppContext, postId: string) {
  const row = await ctx.db
    .selectFrom('posts')
    .select(['like_count', 'repost_count', 'bookmark_count', 'comment_count'])
    .where('id', '=', postId)
    .executeTakeFirst();
  return row ?? { like_count: 0, repost_count: 0, bookmark_count: 0, comment_count: 0 };
}

/** The post as visibility needs it, or NOT_FOUND when it is missing, deleted or hidden from the viewer. */
export async function seePost(ctx: AppContext, viewer: Viewer | undefined, postId: string): Promise<ReactionPost> {
  const id = normaliseId(postId);
  const post = await ctx.db.selectFrom('posts').select(['id', 'author_id', 'visibility', 'deleted_at']).where('id', '=', id).executeTakeFirst();
  await assertCanSeePost(ctx, viewer, post);
  return post!;
}

/** Refuses a reaction to a post deleted between the visibility check and the lock. */
export function mustBeLive(post: { deleted_at: Date | null }): void {
  if (post.deleted_at !== null) throw new AppError('NOT_FOUND', 'post not found');
}

/** The caller's id from a viewer that must be signed in. */
export function callerId(viewer: Viewer): string {
  if (viewer.userId === undefined) throw new AppError('UNAUTHENTICATED', 'authentication required');
  return normaliseId(viewer.userId);
}
