import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { confirmPasswordReset } from '../../../domain/passwords.js';
import { clientMeta } from '../request.js';
import { ErrorBody, Password } from '../schemas.js';

export function passwordResetConfirmRoute(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/auth/password/reset/confirm',
    {
      config: { rateLimit: 'auth' },
      schema: {
        summary: 'Set a new password with the token from a reset mail; every session ends',
        description: 'The token works once, for 30 minutes. The new password must pass the policy (400 with the rules; the token stays usable). Clears a lockout. Also how an account created through OAuth gets a password.',
        body: Type.Object({ token: Type.String({ minLength: 10, maxLength: 200 }), new_password: Password }, { additionalProperties: false }),
        response: { 204: Type.Null(), 400: ErrorBody, 429: ErrorBody },
      },
    },
    async (req, reply) => {
      await confirmPasswordReset(ctx, req.body.token, req.body.new_password, clientMeta(req));
      return reply.code(204).send(null);
    },
  );
}
