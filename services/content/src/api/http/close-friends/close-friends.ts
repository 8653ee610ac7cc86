import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { addCloseFriend, listCloseFriends, removeCloseFriend } from '../../../domain/close-friends.js';
import { bearer, ErrorBody, identity, PageQuery, UserIdParams, Uuid } from '../stories/schemas.js';

const CloseFriendsPage = Type.Object({
  items: Type.Array(Type.Object({ user_id: Uuid, added_at: Type.String({ format: 'date-time' }) })),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});

/** /api/v1/stories/close-friends: the caller's close-friends list (the audience of `close_friends` stories). */
export function closeFriendRoutes(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/stories/close-friends',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'My close friends',
        description: 'Most recently added first, cursor-paged. Only the owner sees the list.',
        security: bearer,
        querystring: PageQuery,
        response: { 200: CloseFriendsPage, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req) => listCloseFriends(ctx, identity(req).userId, req.query),
  );

  app.put(
    '/api/v1/stories/close-friends/:userId',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Add a close friend',
        description: 'Idempotent (`added: false` when already on the list). 404 for an unknown user or one blocked either way; 400 for oneself. Nobody is told.',
        security: bearer,
        params: UserIdParams,
        response: { 200: Type.Object({ user_id: Uuid, added: Type.Boolean() }), 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => addCloseFriend(ctx, identity(req).userId, req.params.userId),
  );

  app.delete(
    '/api/v1/stories/close-friends/:userId',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Remove a close friend',
        description: 'Idempotent: 204 whether or not the user was on the list.',
        security: bearer,
        params: UserIdParams,
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req, reply) => {
      await removeCloseFriend(ctx, identity(req).userId, req.params.userId);
      return reply.code(204).send(null);
    },
  );
}
