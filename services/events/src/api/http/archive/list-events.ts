import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { listEvents } from '../../../domain/archive.js';
import { adminSecurity, ErrorBody, EventSchema } from '../schemas.js';

export function listEventsRoute(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/events',
    {
      schema: {
        summary: 'Archived events, newest first (audit log)',
        security: adminSecurity,
        querystring: Type.Object({
          type: Type.Optional(Type.String({ maxLength: 100 })),
          source: Type.Optional(Type.String({ maxLength: 50 })),
          subject: Type.Optional(Type.String({ maxLength: 200 })),
          correlation_id: Type.Optional(Type.String({ maxLength: 128 })),
          from: Type.Optional(Type.String({ format: 'date-time' })),
          to: Type.Optional(Type.String({ format: 'date-time' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
          cursor: Type.Optional(Type.String({ maxLength: 200 })),
        }),
        response: { 200: Type.Object({ events: Type.Array(EventSchema), next_cursor: Type.Union([Type.String(), Type.Null()]) }), 400: ErrorBody },
      },
    },
    async (req) => listEvents(ctx, req.query),
  );
}
