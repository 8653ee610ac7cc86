import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { replay } from '../../../domain/replay.js';
import { adminSecurity, ErrorBody } from '../schemas.js';

export function replayRoute(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/events/replay',
    {
      schema: {
        summary: 'Re-deliver archived events of a time range to one consumer (it skips what it already handled)',
        security: adminSecurity,
        body: Type.Object(
          {
            consumer: Type.String({ minLength: 3, maxLength: 100 }),
            from: Type.String({ format: 'date-time' }),
            to: Type.String({ format: 'date-time' }),
            type: Type.Optional(Type.String({ maxLength: 100 })),
            source: Type.Optional(Type.String({ maxLength: 50 })),
          },
          { additionalProperties: false },
        ),
        response: { 202: Type.Object({ replay_id: Type.String(), consumer: Type.String(), published: Type.Integer() }), 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => reply.code(202).send(await replay(ctx, req.body)),
  );
}
