import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { listIdentities, unlinkIdentity } from '../../../oauth/identities.js';
import { identity } from '../request.js';
import { bearer, ErrorBody } from '../schemas.js';
import { IdentitySchema, ProviderParams } from './schemas.js';

export function oauthIdentityRoutes(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/auth/oauth/identities',
    {
      config: { auth: 'required' },
      schema: { summary: 'The OAuth providers linked to the caller\'s account', security: bearer, response: { 200: Type.Object({ identities: Type.Array(IdentitySchema) }), 401: ErrorBody } },
    },
    async (req) => ({ identities: await listIdentities(ctx, identity(req).userId) }),
  );
  app.delete(
    '/api/v1/auth/oauth/identities/:provider',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Unlink a provider from the caller\'s account',
        description: '409 CONFLICT (details.reason = last_login_method) when the account has no password and this is its only linked provider.',
        security: bearer,
        params: ProviderParams,
        response: { 204: Type.Null(), 401: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (req, reply) => {
      await unlinkIdentity(ctx, identity(req).userId, req.params.provider);
      return reply.code(204).send(null);
    },
  );
}
