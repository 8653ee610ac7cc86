import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { likePost, listLikes, unlikePost } from '../../../domain/likes.js';
import { viewerOf } from '../../../domain/visibility.js';
import { bearer, ErrorBody, IdParams, PageQuery } from '../schemas.js';

const LikeState = Type.Object({ liked: Type.Literal(true), like_count: Type.Integer({ minimum: 0 }) });

const LikesPage = Type.Object({
  users: Type.Array(Type.Object({ id: Type.String({ format: 'uuid' }), username: Type.String(), liked_at: Type.String({ format: 'date-time' }) })),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as `cursor` for the next page; null on the last page' }),
});

/** POST/DELETE /posts/:id/like and GET /posts/:id/likes. */
export function likeRoutes(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/posts/:id/like',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Like a post',
        description: '201: liked now (PostLiked); 200: it already was. 404 for a missing or deleted post and for one the caller may not see.',
        security: bearer,
        params: IdParams,
        response: { 200: LikeState, 201: LikeState, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (req, reply) => {
      const { changed, ...state } = await likePost(ctx, viewerOf(req.identity), req.params.id, { correlationId: req.correlationId });
      return reply.code(changed ? 201 : 200).send(state);
    },
  );

  app.delete(
    '/api/v1/posts/:id/like',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Take back a like',
        description: 'Idempotent: 204 whenever afterwards the caller does not like the post (PostUnliked only when a like was removed).',
        security: bearer,
        params: IdParams,
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req, reply) => {
      await unlikePost(ctx, viewerOf(req.identity), req.params.id, { correlationId: req.correlationId });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/posts/:id/likes',
    {
      config: { auth: 'optional' },
      schema: {
        summary: 'Who liked a post',
        description:
          'Newest like first. Likers blocked by or blocking the viewer, and deleted accounts, are left out (a page may be shorter than `limit` while `next_cursor` is set). 404 for a post the viewer may not see.',
        params: IdParams,
        querystring: PageQuery,
        response: { 200: LikesPage, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (req) => listLikes(ctx, viewerOf(req.identity), req.params.id, req.query),
  );
}
