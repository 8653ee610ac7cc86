import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { requestPasswordReset } from '../../../domain/passwords.js';
import { clientMeta } from '../request.js';
import { Email, ErrorBody } from '../schemas.js';

const ACCEPTED = { message: 'If an account uses this address, a link to reset its password is on its way.' } as const;

export function passwordResetRequestRoute(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/auth/password/reset/request',
    {
      config: { rateLimit: 'auth' },
      schema: {
        summary: 'Mail a password reset link (single use, 30 minutes) to the account with this address',
        description: 'Always 202 with the same body, whether or not the account exists; the mail is sent in the background.',
        body: Type.Object({ email: Email }, { additionalProperties: false }),
        response: { 202: Type.Object({ message: Type.String() }), 400: ErrorBody, 429: ErrorBody },
      },
    },
    async (req, reply) => {
      requestPasswordReset(ctx, req.body.email, clientMeta(req));
      return reply.code(202).send(ACCEPTED);
    },
  );
}
