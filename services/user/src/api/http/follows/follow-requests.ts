import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { acceptFollowRequest, listFollowRequests, rejectFollowRequest } from '../../../domain/follows.js';
import { identity, requestMeta } from '../request.js';
import { bearer, ErrorBody, PageQuery, ProfileSchema, UserIdParams } from '../schemas.js';

const FollowRequestPage = Type.Object({
  users: Type.Array(Type.Object({ ...ProfileSchema.properties, requested_at: Type.String({ format: 'date-time' }) })),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});

export function followRequestRoutes(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/users/me/follow-requests',
    {
      config: { auth: 'required' },
      schema: {
        summary: "The caller's pending follow requests, newest first, with the requesters' profiles",
        security: bearer,
        querystring: PageQuery,
        response: { 200: FollowRequestPage, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req) => listFollowRequests(ctx, identity(req).userId, req.query),
  );

  app.post(
    '/api/v1/users/me/follow-requests/:id/accept',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Accept the follow request of user :id (they follow the caller from now on)',
        security: bearer,
        params: UserIdParams,
        response: { 204: Type.Null(), 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      await acceptFollowRequest(ctx, identity(req).userId, req.params.id, requestMeta(req));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/users/me/follow-requests/:id/reject',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Decline the follow request of user :id (they are not told)',
        security: bearer,
        params: UserIdParams,
        response: { 204: Type.Null(), 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      await rejectFollowRequest(ctx, identity(req).userId, req.params.id, requestMeta(req));
      return reply.code(204).send(null);
    },
  );
}
