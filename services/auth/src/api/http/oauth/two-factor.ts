import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { completeSecondFactor } from '../../../oauth/second-factor.js';
import { clientMeta } from '../request.js';
import { AuthResult, ErrorBody } from '../schemas.js';

export function oauthTwoFactorRoute(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/auth/oauth/2fa',
    {
      config: { rateLimit: 'auth' },
      schema: {
        summary: 'Finish an OAuth sign-in into an account with 2FA: the ticket from the callback\'s 401 TOTP_REQUIRED and a TOTP or backup code',
        description: 'The ticket lasts 5 minutes and survives at most 5 wrong codes; wrong codes count towards the account lockout.',
        body: Type.Object({ ticket: Type.String({ minLength: 1, maxLength: 256 }), code: Type.String({ minLength: 6, maxLength: 20 }) }, { additionalProperties: false }),
        response: { 200: AuthResult, 401: ErrorBody, 423: ErrorBody, 429: ErrorBody },
      },
    },
    async (req) => completeSecondFactor(ctx, req.body.ticket, req.body.code, clientMeta(req)),
  );
}
