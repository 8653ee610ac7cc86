import type { HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { getSettings } from '../../../domain/settings.js';
import { identity } from '../request.js';
import { bearer, ErrorBody } from '../schemas.js';
import { SettingsSchema } from './schemas.js';

export function getSettingsRoute(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/users/me/settings',
    {
      config: { auth: 'required' },
      schema: {
        summary: "The caller's settings",
        description: 'Every known notification and privacy key is listed, with its default (true) until changed.',
        security: bearer,
        response: { 200: SettingsSchema, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => getSettings(ctx, identity(req).userId),
  );
}
