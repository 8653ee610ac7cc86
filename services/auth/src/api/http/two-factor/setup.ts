import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { setupTwoFactor } from '../../../domain/two-factor.js';
import { identity } from '../request.js';
import { bearer, ErrorBody } from '../schemas.js';

export function twoFactorSetupRoute(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/auth/2fa/setup',
    {
      config: { auth: 'required', rateLimit: 'auth' },
      schema: {
        summary: 'Start two-factor setup: a new TOTP secret and the otpauth:// URI authenticator apps import',
        description: 'The secret is not in force until POST /api/v1/auth/2fa/enable confirms a code from it. TOTP: SHA-1, 6 digits, 30 s. 409 when 2FA is already enabled.',
        security: bearer,
        response: {
          200: Type.Object({
            secret: Type.String({ description: 'base32, for entering by hand' }),
            otpauth_uri: Type.String({ description: 'otpauth://totp/Nova:<username>?secret=...&issuer=Nova&algorithm=SHA1&digits=6&period=30' }),
          }),
          401: ErrorBody,
          409: ErrorBody,
          429: ErrorBody,
        },
      },
    },
    async (req, reply) => {
      const setup = await setupTwoFactor(ctx, identity(req).userId);
      return reply.header('cache-control', 'no-store').send(setup);
    },
  );
}
