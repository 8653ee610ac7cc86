import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { listDeadLetters } from '../../../domain/dead-letters.js';
import { adminSecurity } from '../schemas.js';

export const DeadLetterSchema = Type.Object({
  seq: Type.Integer(),
  consumer: Type.Union([Type.String(), Type.Null()]),
  original_subject: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  attempts: Type.Union([Type.Integer(), Type.Null()]),
  failed_at: Type.Union([Type.String(), Type.Null()]),
  event_id: Type.Union([Type.String(), Type.Null()]),
  event: Type.Unknown(),
});

export function listDeadLettersRoute(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/events/dead-letters',
    {
      schema: {
        summary: 'Events that a consumer gave up on, oldest first',
        security: adminSecurity,
        querystring: Type.Object({
          consumer: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]*$', maxLength: 100 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
          cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
        }),
        response: { 200: Type.Object({ dead_letters: Type.Array(DeadLetterSchema), next_cursor: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (req) =>
      listDeadLetters(ctx, {
        limit: req.query.limit ?? 50,
        ...(req.query.cursor ? { afterSeq: Number(req.query.cursor) } : {}),
        ...(req.query.consumer ? { consumer: req.query.consumer } : {}),
      }),
  );
}
