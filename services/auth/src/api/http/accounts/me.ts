import type { HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { me } from '../../../domain/accounts.js';
import { identity } from '../request.js';
import { bearer, ErrorBody, UserSchema } from '../schemas.js';

export function meRoute(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/auth/me',
    { config: { auth: 'required' }, schema: { summary: 'The caller\'s account', security: bearer, response: { 200: UserSchema, 401: ErrorBody } } },
    async (req) => me(ctx, identity(req).userId),
  );
}
