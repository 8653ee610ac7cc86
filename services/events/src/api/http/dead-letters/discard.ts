import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { discard } from '../../../domain/dead-letters.js';
import { adminSecurity, ErrorBody } from '../schemas.js';

export function discardRoute(app: HttpApp, ctx: AppContext): void {
  app.delete(
    '/api/v1/events/dead-letters/:seq',
    {
      schema: {
        summary: 'Drop a dead letter for good',
        security: adminSecurity,
        params: Type.Object({ seq: Type.Integer({ minimum: 1 }) }),
        response: { 204: Type.Null(), 404: ErrorBody },
      },
    },
    async (req, reply) => {
      await discard(ctx, req.params.seq);
      return reply.code(204).send(null);
    },
  );
}
