import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { confirmEmailVerification, requestEmailVerification } from '../../../domain/email-verification.js';
import { clientMeta, identity } from '../request.js';
import { bearer, ErrorBody } from '../schemas.js';

export function emailVerificationRoutes(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/auth/email/verify/request',
    {
      config: { auth: 'required', rateLimit: 'auth' },
      schema: { summary: 'Mail a new verification link to the caller\'s address', security: bearer, response: { 202: Type.Null(), 401: ErrorBody, 409: ErrorBody } },
    },
    async (req, reply) => {
      await requestEmailVerification(ctx, identity(req).userId);
      return reply.code(202).send(null);
    },
  );
  app.post(
    '/api/v1/auth/email/verify/confirm',
    {
      config: { rateLimit: 'auth' },
      schema: {
        summary: 'Confirm an email address with the token from the mail (single use, 24 hours)',
        body: Type.Object({ token: Type.String({ minLength: 10, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 204: Type.Null(), 400: ErrorBody },
      },
    },
    async (req, reply) => {
      await confirmEmailVerification(ctx, req.body.token, clientMeta(req));
      return reply.code(204).send(null);
    },
  );
}
