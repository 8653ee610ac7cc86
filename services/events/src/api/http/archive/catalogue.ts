import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { catalogue } from '../../../domain/archive.js';
import { adminSecurity } from '../schemas.js';

export function catalogueRoute(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/events/catalogue',
    {
      schema: {
        summary: 'Every event type seen on the bus: producer, latest version, volume, first and last seen',
        security: adminSecurity,
        response: {
          200: Type.Object({
            types: Type.Array(
              Type.Object({ type: Type.String(), source: Type.String(), latest_version: Type.Integer(), count: Type.Integer(), first_seen: Type.String(), last_seen: Type.String() }),
            ),
          }),
        },
      },
    },
    async () => ({ types: await catalogue(ctx) }),
  );
}
