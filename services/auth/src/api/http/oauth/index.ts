import type { HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { createOAuthProviders, type OAuthProviders } from '../../../oauth/registry.js';
import { oauthCallbackRoutes } from './callback.js';
import { oauthIdentityRoutes } from './identities.js';
import { oauthStartRoute } from './start.js';
import { oauthTwoFactorRoute } from './two-factor.js';

/**
 * Everything under /api/v1/auth/oauth. The providers are built from config here, so half an OAuth
 * configuration fails the start-up.
 */
export function oauthRoutes(app: HttpApp, ctx: AppContext, providers: OAuthProviders = createOAuthProviders(ctx)): void {
  // Static paths first in the source for readers; Fastify's router prefers them over `/:provider/...` anyway.
  oauthIdentityRoutes(app, ctx);
  oauthTwoFactorRoute(app, ctx);
  oauthStartRoute(app, ctx, providers);
  oauthCallbackRoutes(app, ctx, providers);
}
