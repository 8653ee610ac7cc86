import type { HttpApp } from '@nova/platform';
import type { AppContext } from '../../context.js';
import { deleteMeRoute } from './accounts/delete-me.js';
import { loginRoute } from './accounts/login.js';
import { meRoute } from './accounts/me.js';
import { registerRoute } from './accounts/register.js';
import { emailVerificationRoutes } from './email/verify.js';
import { jwksRoute } from './keys/jwks.js';
import { oauthRoutes } from './oauth/index.js';
import { passwordChangeRoute } from './password/change.js';
import { passwordResetConfirmRoute } from './password/reset-confirm.js';
import { passwordResetRequestRoute } from './password/reset-request.js';
import { twoFactorDisableRoute } from './two-factor/disable.js';
import { twoFactorEnableRoute } from './two-factor/enable.js';
import { twoFactorSetupRoute } from './two-factor/setup.js';
import { logoutRoutes } from './sessions/logout.js';
import { refreshRoute } from './sessions/refresh.js';
import { sessionRoutes } from './sessions/list-sessions.js';

export function routes(ctx: AppContext) {
  return (app: HttpApp) => {
    for (const route of [
      registerRoute,
      loginRoute,
      meRoute,
      deleteMeRoute,
      refreshRoute,
      logoutRoutes,
      sessionRoutes,
      emailVerificationRoutes,
      passwordChangeRoute,
      passwordResetRequestRoute,
      passwordResetConfirmRoute,
      twoFactorSetupRoute,
      twoFactorEnableRoute,
      twoFactorDisableRoute,
      oauthRoutes,
      jwksRoute,
    ]) {
      route(app, ctx);
    }
  };
}
