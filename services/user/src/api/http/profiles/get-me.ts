import type { HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { getMe } from '../../../domain/profiles.js';
import { identity } from '../request.js';
import { bearer, ErrorBody, MeSchema } from '../schemas.js';

export function getMeRoute(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/users/me',
    {
      config: { auth: 'required' },
      schema: {
        summary: "The caller's profile, with the account's email",
        description:
          'The only profile answer that carries an email. A caller whose profile is not yet there (signed up a moment ago) gets it created from the auth service first. `email` is left out when the auth service cannot be asked.',
        security: bearer,
        response: { 200: MeSchema, 401: ErrorBody, 404: ErrorBody, 503: ErrorBody },
      },
    },
    async (req) => getMe(ctx, identity(req).userId),
  );
}
