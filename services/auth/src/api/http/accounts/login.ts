import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { login } from '../../../domain/accounts.js';
import { clientMeta } from '../request.js';
import { AuthResult, ErrorBody, Password } from '../schemas.js';

export function loginRoute(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/auth/login',
    {
      config: { rateLimit: 'auth' },
      schema: {
        summary: 'Log in with email or username and password (and a 2FA code when enabled)',
        description: 'Unknown account and wrong password give the same 401 INVALID_CREDENTIALS. With 2FA on and no code: 401 TOTP_REQUIRED. After 5 failures: 423 ACCOUNT_LOCKED for 15 minutes.',
        body: Type.Object(
          { identifier: Type.String({ minLength: 1, maxLength: 254 }), password: Password, totp_code: Type.Optional(Type.String({ minLength: 6, maxLength: 20 })) },
          { additionalProperties: false },
        ),
        response: { 200: AuthResult, 401: ErrorBody, 423: ErrorBody, 429: ErrorBody },
      },
    },
    async (req) => login(ctx, req.body, clientMeta(req)),
  );
}
