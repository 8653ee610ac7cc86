import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { logout, logoutAll } from '../../../domain/accounts.js';
import { clientMeta, identity } from '../request.js';
import { bearer, ErrorBody } from '../schemas.js';

export function logoutRoutes(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/auth/logout',
    { config: { auth: 'required' }, schema: { summary: 'End this session (its tokens stop working everywhere within a second)', security: bearer, response: { 204: Type.Null(), 401: ErrorBody } } },
    async (req, reply) => {
      const who = identity(req);
      await logout(ctx, who.userId, who.sessionId, clientMeta(req));
      return reply.code(204).send(null);
    },
  );
  app.post(
    '/api/v1/auth/logout-all',
    { config: { auth: 'required' }, schema: { summary: 'End every session of the caller, this one included', security: bearer, response: { 204: Type.Null(), 401: ErrorBody } } },
    async (req, reply) => {
      await logoutAll(ctx, identity(req).userId, clientMeta(req));
      return reply.code(204).send(null);
    },
  );
}
