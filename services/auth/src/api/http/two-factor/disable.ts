import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { disableTwoFactor } from '../../../domain/two-factor.js';
import { identity } from '../request.js';
import { bearer, ErrorBody, Password } from '../schemas.js';

export function twoFactorDisableRoute(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/auth/2fa/disable',
    {
      config: { auth: 'required', rateLimit: 'auth' },
      schema: {
        summary: 'Turn two-factor authentication off (needs the password and a TOTP or backup code)',
        description: 'Removes the secret and every backup code. A wrong password or code is 400 and counts towards the login lockout (423 while locked).',
        security: bearer,
        body: Type.Object({ password: Password, code: Type.String({ minLength: 6, maxLength: 20, description: 'a TOTP code or an unused backup code' }) }, { additionalProperties: false }),
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody, 409: ErrorBody, 412: ErrorBody, 423: ErrorBody, 429: ErrorBody },
      },
    },
    async (req, reply) => {
      await disableTwoFactor(ctx, identity(req).userId, req.body.password, req.body.code);
      return reply.code(204).send(null);
    },
  );
}
