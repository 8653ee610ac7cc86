import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { outboxStatus } from '../../../domain/outbox-status.js';
import { adminSecurity } from '../schemas.js';

export function outboxStatusRoute(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/events/outbox',
    {
      schema: {
        summary: 'Outbox lag per service, as each relay last reported it',
        security: adminSecurity,
        response: {
          200: Type.Object({
            services: Type.Array(
              Type.Object({
                service: Type.String(),
                pending: Type.Integer(),
                oldest_pending_age_seconds: Type.Number(),
                published_total: Type.Integer(),
                last_error: Type.Union([Type.String(), Type.Null()]),
                updated_at: Type.String(),
              }),
            ),
          }),
        },
      },
    },
    async () => ({ services: await outboxStatus(ctx) }),
  );
}
