import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { redrive } from '../../../domain/dead-letters.js';
import { adminSecurity, ErrorBody } from '../schemas.js';

export function redriveRoute(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/events/dead-letters/:seq/redrive',
    {
      schema: {
        summary: 'Publish a dead letter again on its original subject and remove it from the dead-letter stream',
        security: adminSecurity,
        params: Type.Object({ seq: Type.Integer({ minimum: 1 }) }),
        response: { 200: Type.Object({ seq: Type.Integer(), event_id: Type.Union([Type.String(), Type.Null()]), subject: Type.String() }), 404: ErrorBody, 412: ErrorBody },
      },
    },
    async (req) => redrive(ctx, req.params.seq),
  );
}
