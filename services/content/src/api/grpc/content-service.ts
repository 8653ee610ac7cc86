import { contentV1 } from '@nova/proto';
import { AppError, decodePosition, encodePosition, isUuid, unary, type GrpcServiceRegistration } from '@nova/platform';
import type { AppContext } from '../../context.js';
import * as pq from '../../db/queries/posts.js';
import { canSeePost } from '../../domain/visibility.js';

/** Most ids GetPostsByIds takes in one call. */
export const MAX_IDS_PER_CALL = 500;
/** Largest GetPostsByAuthor page, and the page size when the caller asks for none. */
export const MAX_AUTHOR_PAGE = 100;
export const DEFAULT_AUTHOR_PAGE = 20;


/**
 * nova.content.v1.ContentService: posts for the other services (any verified service). GetPost, GetPostsByIds
 * and GetPostsByAuthor return live posts whatever their visibility (the caller hydrates what it already
 * decided to show, or asks CheckPostVisible); deleted posts do not exist here.
 */
export function contentGrpc(ctx: AppContext): GrpcServiceRegistration {
  const implementation: contentV1.ContentServiceServer = {
    getPost: unary(async (req: contentV1.GetPostRequest) => {
      const post = await pq.findPost(ctx.db, uuid(req.id, 'id'));
      if (!post || post.deleted_at !== null) throw new AppError('NOT_FOUND', 'post not found');
      return { post: toProto(post) };
    }),

    getPostsByIds: unary(async (req: contentV1.GetPostsByIdsRequest) => {
      if (req.ids.length > MAX_IDS_PER_CALL) {
        throw new AppError('VALIDATION_FAILED', `at most ${MAX_IDS_PER_CALL} ids per call, got ${req.ids.length}`, { details: { field: 'ids', max: MAX_IDS_PER_CALL } });
      }
      const ids = [...new Set(req.ids.map((id, i) => uuid(id, `ids[${i}]`)))];
      const rows = new Map((await pq.findPosts(ctx.db, ids)).filter((p) => p.deleted_at === null).map((p) => [p.id, p]));
      return { posts: ids.flatMap((id) => (rows.has(id) ? [toProto(rows.get(id)!)] : [])) };
    }),

    getPostsByAuthor: unary(async (req: contentV1.GetPostsByAuthorRequest) => {
      const authorId = uuid(req.author_id, 'author_id');
      const limit = pageSize(req.limit);
      const key = decodePosition(req.cursor === '' ? undefined : req.cursor);
      const rows = await pq.authorPostsPage(ctx.db, authorId, limit + 1, key);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        posts: page.map(toProto),
        next_cursor: rows.length > limit && last ? encodePosition(last.position_at, last.id) : '',
      };
    }),

    checkPostVisible: unary(async (req: contentV1.CheckPostVisibleRequest) => {
      const viewerId = req.viewer_id === '' ? undefined : uuid(req.viewer_id, 'viewer_id');
      const post = await pq.findPost(ctx.db, uuid(req.post_id, 'post_id'));
      return { visible: post !== undefined && (await canSeePost(ctx, { userId: viewerId }, post)) };
    }),
  };
  return { definition: contentV1.ContentServiceService, implementation, allow: { '*': ['*'] } };
}

function uuid(value: string, field: string): string {
  if (!isUuid(value)) throw new AppError('VALIDATION_FAILED', `${field} must be a UUID`, { details: { field } });
  return value.toLowerCase();
}

function pageSize(limit: number): number {
  if (limit === 0) return DEFAULT_AUTHOR_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUTHOR_PAGE) {
    throw new AppError('VALIDATION_FAILED', `limit must be between 1 and ${MAX_AUTHOR_PAGE}`, { details: { field: 'limit', max: MAX_AUTHOR_PAGE } });
  }
  return limit;
}


function toProto(p: pq.PostRow): contentV1.Post {
  return {
    id: p.id,
    author_id: p.author_id,
    text: p.text,
    media_ids: p.media_ids,
    visibility: p.visibility,
    ...(p.reply_to_id === null ? {} : { reply_to_id: p.reply_to_id }),
    ...(p.quote_of_id === null ? {} : { quote_of_id: p.quote_of_id }),
    like_count: p.like_count,
    comment_count: p.comment_count,
    repost_count: p.repost_count,
    bookmark_count: p.bookmark_count,
    quote_count: p.quote_count,
    created_at: p.created_at.toISOString(),
    updated_at: p.updated_at.toISOString(),
    ...(p.edited_at === null ? {} : { edited_at: p.edited_at.toISOString() }),
  };
}
