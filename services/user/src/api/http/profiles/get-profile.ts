import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { getProfile, getProfileByUsername } from '../../../domain/profiles.js';
import { ErrorBody, ProfileSchema, USERNAME_PATTERN, UserIdParams } from '../schemas.js';

const VISIBILITY = 'Anyone may look, with or without a token. 404 for a missing or deleted user, and for one who blocks the caller or whom the caller blocks. Never carries an email.';

export function getProfileRoutes(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/users/:id',
    {
      config: { auth: 'optional' },
      schema: { summary: 'A profile by user id', description: VISIBILITY, params: UserIdParams, response: { 200: ProfileSchema, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody } },
    },
    async (req) => getProfile(ctx, req.identity?.userId, req.params.id),
  );

  app.get(
    '/api/v1/users/by-username/:username',
    {
      config: { auth: 'optional' },
      schema: {
        summary: 'A profile by username (case-insensitive)',
        description: VISIBILITY,
        params: Type.Object({ username: Type.String({ pattern: USERNAME_PATTERN }) }, { additionalProperties: false }),
        response: { 200: ProfileSchema, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => getProfileByUsername(ctx, req.identity?.userId, req.params.username),
  );
}
