import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { refresh } from '../../../domain/sessions.js';
import { clientMeta } from '../request.js';
import { ErrorBody, TokenPairSchema } from '../schemas.js';

export function refreshRoute(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/auth/refresh',
    {
      schema: {
        summary: 'Exchange a refresh token for a new pair; the old refresh token stops working',
        description: 'Presenting an already-rotated refresh token (outside a short grace window for retries) revokes the whole session: 401 TOKEN_REUSED.',
        body: Type.Object({ refresh_token: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }),
        response: { 200: TokenPairSchema, 401: ErrorBody },
      },
    },
    async (req) => refresh(ctx, req.body.refresh_token, clientMeta(req)),
  );
}
