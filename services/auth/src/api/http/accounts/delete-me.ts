import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { deleteAccount } from '../../../domain/accounts.js';
import { clientMeta, identity } from '../request.js';
import { bearer, ErrorBody } from '../schemas.js';

export function deleteMeRoute(app: HttpApp, ctx: AppContext): void {
  app.delete(
    '/api/v1/auth/me',
    {
      config: { auth: 'required' },
      schema: { summary: 'Delete the caller\'s account (soft delete; every session ends; other services are told)', security: bearer, response: { 204: Type.Null(), 401: ErrorBody } },
    },
    async (req, reply) => {
      await deleteAccount(ctx, identity(req).userId, clientMeta(req));
      return reply.code(204).send(null);
    },
  );
}
