import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { changePassword } from '../../../domain/passwords.js';
import { clientMeta, identity } from '../request.js';
import { bearer, ErrorBody, Password } from '../schemas.js';

export function passwordChangeRoute(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/auth/password/change',
    {
      config: { auth: 'required', rateLimit: 'auth' },
      schema: {
        summary: 'Change the password (current one required); every other session ends, this one stays',
        description: 'The new password must pass the policy (400 with the rules). A wrong current password is 400 (field old_password) and counts towards the login lockout (423 while locked). Accounts without a password set one through a reset (412).',
        security: bearer,
        body: Type.Object({ old_password: Password, new_password: Password }, { additionalProperties: false }),
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody, 412: ErrorBody, 423: ErrorBody, 429: ErrorBody },
      },
    },
    async (req, reply) => {
      await changePassword(ctx, identity(req), req.body, clientMeta(req));
      return reply.code(204).send(null);
    },
  );
}
