import type { HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { updateSettings, type SettingsPatch } from '../../../domain/settings.js';
import { identity, requestMeta } from '../request.js';
import { bearer, ErrorBody } from '../schemas.js';
import { SettingsPatchBody, SettingsSchema } from './schemas.js';

export function updateSettingsRoute(app: HttpApp, ctx: AppContext): void {
  app.patch(
    '/api/v1/users/me/settings',
    {
      config: { auth: 'required' },
      schema: {
        summary: "Change some of the caller's settings",
        description:
          '`notifications` and `privacy` are merged key by key: send only the keys to change; an unknown key is 400. Emits SettingsUpdated (the full settings and what changed) when something changed.',
        security: bearer,
        body: SettingsPatchBody,
        response: { 200: SettingsSchema, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => updateSettings(ctx, identity(req).userId, req.body as SettingsPatch, requestMeta(req)),
  );
}
