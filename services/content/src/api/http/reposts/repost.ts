import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { repost, unrepost } from '../../../domain/reposts.js';
import { viewerOf } from '../../../domain/visibility.js';
import { bearer, ErrorBody, IdParams } from '../schemas.js';

const RepostState = Type.Object({ reposted: Type.Literal(true), repost_count: Type.Integer({ minimum: 0 }) });

/** POST/DELETE /posts/:id/repost. */
export function repostRoutes(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/posts/:id/repost',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Repost a post',
        description:
          "201: reposted now (PostReposted); 200: it already was. Only `public` posts can be reposted: 403 FORBIDDEN (details.reason `not_public`) for a followers-only or private post the caller sees; 404 for a missing or deleted post and for one the caller may not see.",
        security: bearer,
        params: IdParams,
        response: { 200: RepostState, 201: RepostState, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (req, reply) => {
      const { changed, ...state } = await repost(ctx, viewerOf(req.identity), req.params.id, { correlationId: req.correlationId });
      return reply.code(changed ? 201 : 200).send(state);
    },
  );

  app.delete(
    '/api/v1/posts/:id/repost',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Take back a repost',
        description: 'Idempotent: 204 whenever afterwards the caller has not reposted the post (PostUnreposted only when a repost was removed).',
        security: bearer,
        params: IdParams,
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req, reply) => {
      await unrepost(ctx, viewerOf(req.identity), req.params.id, { correlationId: req.correlationId });
      return reply.code(204).send(null);
    },
  );
}
