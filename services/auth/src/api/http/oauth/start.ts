import { AppError, Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { startOAuth } from '../../../oauth/flow.js';
import type { OAuthProviders } from '../../../oauth/registry.js';
import { bearer, ErrorBody } from '../schemas.js';
import { ProviderParams } from './schemas.js';

export function oauthStartRoute(app: HttpApp, ctx: AppContext, providers: OAuthProviders): void {
  app.get(
    '/api/v1/auth/oauth/:provider/start',
    {
      config: { auth: 'optional' },
      schema: {
        summary: 'Start signing in with an OAuth provider (or, with link=true and an access token, linking one to the caller\'s account)',
        description:
          'Redirects (302) to the provider; with `Accept: application/json` answers the URL instead. The provider comes back to ' +
          '`/api/v1/auth/oauth/:provider/callback` within OAUTH_STATE_TTL_SECONDS (10 min), once. 404 NOT_FOUND when the provider is not configured.',
        security: [{}, ...bearer],
        params: ProviderParams,
        querystring: Type.Object({ link: Type.Optional(Type.Boolean({ description: 'link the provider to the logged-in caller instead of signing in' })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ authorization_url: Type.String(), expires_in: Type.Integer() }), 401: ErrorBody, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (req, reply) => {
      let link: { userId: string; sessionId: string } | undefined;
      if (req.query.link) {
        if (!req.identity) throw new AppError('UNAUTHENTICATED', 'log in to link an account');
        link = { userId: req.identity.userId, sessionId: req.identity.sessionId };
      }
      const { authorizationUrl, expiresIn } = await startOAuth(ctx, providers, req.params.provider, link);
      reply.header('cache-control', 'no-store');
      if (wantsJson(req.headers.accept)) return reply.send({ authorization_url: authorizationUrl, expires_in: expiresIn });
      return reply.redirect(authorizationUrl, 302);
    },
  );
}

function wantsJson(accept: string | undefined): boolean {
  return accept !== undefined && /\bapplication\/json\b/i.test(accept);
}
