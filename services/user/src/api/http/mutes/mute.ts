import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { MAX_MUTE_SECONDS, mute, unmute } from '../../../domain/mutes.js';
import { identity, requestMeta } from '../request.js';
import { bearer, ErrorBody, UserIdParams, Uuid } from '../schemas.js';

const MuteBody = Type.Object(
  {
    expires_at: Type.Optional(Type.String({ format: 'date-time', description: 'when the mute ends by itself (RFC 3339, in the future)' })),
    duration_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_MUTE_SECONDS, description: 'how long the mute lasts from now' })),
  },
  { additionalProperties: false, description: 'at most one of the two; neither: until unmuted' },
);

const MuteSchema = Type.Object({
  user_id: Uuid,
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
});

export function muteRoutes(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/users/:id/mute',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Mute a user, for a while or until unmuted',
        description:
          "Hides the user's posts and notifications from the caller without telling them. Muting again replaces the expiry. A mute past its expiry no longer mutes. 404 for a user the caller cannot see.",
        security: bearer,
        params: UserIdParams,
        body: MuteBody,
        response: { 200: MuteSchema, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
      // The body is optional: a bare POST mutes until unmuted.
      preValidation: async (req) => {
        if (req.body === undefined || req.body === null) (req as { body: unknown }).body = {};
      },
    },
    async (req) => mute(ctx, identity(req).userId, req.params.id, req.body, requestMeta(req)),
  );

  app.delete(
    '/api/v1/users/:id/mute',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Unmute a user',
        description: 'Idempotent: 204 whether or not the user was muted.',
        security: bearer,
        params: UserIdParams,
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req, reply) => {
      await unmute(ctx, identity(req).userId, req.params.id, requestMeta(req));
      return reply.code(204).send(null);
    },
  );
}
