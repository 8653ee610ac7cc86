import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { BACKUP_CODE_COUNT, enableTwoFactor } from '../../../domain/two-factor.js';
import { identity } from '../request.js';
import { bearer, ErrorBody } from '../schemas.js';

export function twoFactorEnableRoute(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/auth/2fa/enable',
    {
      config: { auth: 'required', rateLimit: 'auth' },
      schema: {
        summary: 'Turn two-factor authentication on with a code from the secret of /2fa/setup; returns the backup codes',
        description: `The ${BACKUP_CODE_COUNT} backup codes are shown this once and each works once, in place of a TOTP code. 400 when the code does not match, 412 without a setup in progress, 409 when already enabled.`,
        security: bearer,
        body: Type.Object({ code: Type.String({ minLength: 6, maxLength: 20, description: 'the 6-digit code the authenticator app shows' }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ backup_codes: Type.Array(Type.String(), { minItems: BACKUP_CODE_COUNT, maxItems: BACKUP_CODE_COUNT }) }),
          400: ErrorBody,
          401: ErrorBody,
          409: ErrorBody,
          412: ErrorBody,
          429: ErrorBody,
        },
      },
    },
    async (req, reply) => {
      const result = await enableTwoFactor(ctx, identity(req).userId, req.body.code);
      return reply.header('cache-control', 'no-store').send(result);
    },
  );
}
