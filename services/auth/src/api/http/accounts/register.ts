import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { register } from '../../../domain/accounts.js';
import { clientMeta } from '../request.js';
import { AuthResult, Email, ErrorBody, Password, Username } from '../schemas.js';

export function registerRoute(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/auth/register',
    {
      config: { rateLimit: 'auth' },
      schema: {
        summary: 'Create an account with a password; returns the user and a token pair, and mails a verification link',
        body: Type.Object({ email: Email, username: Username, password: Password }, { additionalProperties: false }),
        response: { 201: AuthResult, 400: ErrorBody, 409: ErrorBody, 429: ErrorBody },
      },
    },
    async (req, reply) => reply.code(201).send(await register(ctx, req.body, clientMeta(req))),
  );
}
