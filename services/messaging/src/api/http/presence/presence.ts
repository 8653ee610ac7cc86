import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { conversationPresence } from '../../../domain/presence.js';
import { identity } from '../request.js';
import { bearer, ConversationParams, ErrorBody, Uuid } from '../schemas.js';

const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Boolean>>(t: T) => Type.Union([t, Type.Null()]);

export function presenceRoutes(app: HttpApp, ctx: AppContext): void {
  app.get(
    '/api/v1/conversations/:id/presence',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Who of the other members is online',
        description:
          "`online`: a WebSocket of theirs is open on some instance; `last_active_at`: when one last was. Both null for members who turned `privacy.show_activity_status` off, and for everyone when the caller turned their own off. Members only (404).",
        security: bearer,
        params: ConversationParams,
        response: {
          200: Type.Object({ items: Type.Array(Type.Object({ user_id: Uuid, online: Nullable(Type.Boolean()), last_active_at: Nullable(Type.String({ format: 'date-time' })) })) }),
          400: ErrorBody,
          401: ErrorBody,
          404: ErrorBody,
          503: ErrorBody,
        },
      },
    },
    async (req) => ({ items: await conversationPresence(ctx, identity(req), req.params.id) }),
  );
}
