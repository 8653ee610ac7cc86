import type { HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { finishOAuth } from '../../../oauth/flow.js';
import type { OAuthProviders } from '../../../oauth/registry.js';
import { clientMeta } from '../request.js';
import { ErrorBody } from '../schemas.js';
import { CallbackParams, OAuthResultSchema, ProviderParams } from './schemas.js';

const DESCRIPTION =
  'Where the provider sends the browser back. The state is single use and expires (400 BAD_REQUEST otherwise). ' +
  'Outcomes: the linked account is logged in; a link flow links to the caller (409 CONFLICT if the identity is someone else\'s); ' +
  'an email verified by both the provider and an existing account links to it; an email an account has but either side has not verified ' +
  'is refused with 409 CONFLICT (details.reason, details.action = login_and_link); otherwise a new account is created. ' +
  'Accounts with 2FA answer 401 TOTP_REQUIRED with details.oauth_ticket for POST /api/v1/auth/oauth/2fa. ' +
  'Provider refusals (cancelled, bad code) are 400, responses that fail verification (ID token signature, audience, nonce) 401, ' +
  'an unreachable or failing provider 503 DEPENDENCY_UNAVAILABLE.';

const responses = { 200: OAuthResultSchema, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 503: ErrorBody };

function params(raw: Record<string, string | undefined>): URLSearchParams {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') out.set(k, v);
  return out;
}

export function oauthCallbackRoutes(app: HttpApp, ctx: AppContext, providers: OAuthProviders): void {
  app.get(
    '/api/v1/auth/oauth/:provider/callback',
    {
      config: { rateLimit: 'auth' },
      schema: { summary: 'OAuth callback (redirect): finishes the sign-in and answers the user and a token pair', description: DESCRIPTION, params: ProviderParams, querystring: CallbackParams, response: responses },
    },
    async (req, reply) => {
      reply.header('cache-control', 'no-store');
      return finishOAuth(ctx, providers, req.params.provider, params(req.query), 'GET', clientMeta(req));
    },
  );

  // Apple answers with an auto-submitted form (response_mode=form_post): a urlencoded body, parsed in this scope only.
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    (scope as unknown as HttpApp).post(
      '/api/v1/auth/oauth/:provider/callback',
      {
        config: { rateLimit: 'auth' },
        schema: {
          summary: 'OAuth callback (form_post, Sign in with Apple): as the GET callback, with the parameters in an application/x-www-form-urlencoded body',
          description: DESCRIPTION,
          params: ProviderParams,
          body: CallbackParams,
          response: responses,
        },
      },
      async (req, reply) => {
        reply.header('cache-control', 'no-store');
        return finishOAuth(ctx, providers, req.params.provider, params(req.body), 'POST', clientMeta(req));
      },
    );
  });
}
