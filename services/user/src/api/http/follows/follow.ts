import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { follow, unfollow } from '../../../domain/follows.js';
import { identity, requestMeta } from '../request.js';
import { bearer, ErrorBody, UserIdParams } from '../schemas.js';

const FollowStateBody = Type.Object({
  state: Type.Union([Type.Literal('following'), Type.Literal('requested')], {
    description: '`following`: the caller follows the user; `requested`: the user is private and has a pending request from the caller',
  }),
});

export function followRoutes(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/users/:id/follow',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Follow a user (a public account at once, a private one by request)',
        description:
          '201: now following; 202: a follow request now waits for the private account to accept it; 200: nothing changed (already following or requested). 404 for a missing or deleted user and for one blocked by or blocking the caller.',
        security: bearer,
        params: UserIdParams,
        response: { 200: FollowStateBody, 201: FollowStateBody, 202: FollowStateBody, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      const outcome = await follow(ctx, identity(req).userId, req.params.id, requestMeta(req));
      const status = !outcome.changed ? 200 : outcome.state === 'following' ? 201 : 202;
      return reply.code(status).send({ state: outcome.state });
    },
  );

  app.delete(
    '/api/v1/users/:id/follow',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Unfollow a user, or withdraw a pending follow request',
        description: 'Idempotent: 204 whenever afterwards the caller neither follows nor asks to follow the user.',
        security: bearer,
        params: UserIdParams,
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req, reply) => {
      await unfollow(ctx, identity(req).userId, req.params.id, requestMeta(req));
      return reply.code(204).send(null);
    },
  );
}
