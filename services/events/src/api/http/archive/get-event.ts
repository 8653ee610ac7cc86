import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { getEvent } from '../../../domain/archive.js';
import { adminSecurity, ErrorBody, EventSchema } from '../schemas.js';

export function getEventRoute(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/events/:id',
    {
      schema: {
        summary: 'One archived event',
        security: adminSecurity,
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 200: EventSchema, 404: ErrorBody },
      },
    },
    async (req) => getEvent(ctx, req.params.id),
  );
}
