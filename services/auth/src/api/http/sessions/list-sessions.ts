import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { listSessions, revokeOwnSession } from '../../../domain/sessions.js';
import { clientMeta, identity } from '../request.js';
import { bearer, ErrorBody } from '../schemas.js';

const SessionSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  device: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  last_seen_at: Type.String({ format: 'date-time' }),
  current: Type.Boolean(),
});

export function sessionRoutes(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/auth/sessions',
    { config: { auth: 'required' }, schema: { summary: 'The caller\'s active sessions, newest first', security: bearer, response: { 200: Type.Object({ sessions: Type.Array(SessionSchema) }), 401: ErrorBody } } },
    async (req) => {
      const who = identity(req);
      return { sessions: await listSessions(ctx, who.userId, who.sessionId) };
    },
  );
  app.delete(
    '/api/v1/auth/sessions/:id',
    {
      config: { auth: 'required' },
      schema: { summary: 'End one of the caller\'s sessions', security: bearer, params: Type.Object({ id: Type.String({ format: 'uuid' }) }), response: { 204: Type.Null(), 401: ErrorBody, 404: ErrorBody } },
    },
    async (req, reply) => {
      await revokeOwnSession(ctx, identity(req).userId, req.params.id, clientMeta(req));
      return reply.code(204).send(null);
    },
  );
}
