import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { react } from '../../../domain/reactions.js';
import { identity } from '../request.js';
import { bearer, ErrorBody, Seq, Uuid } from '../schemas.js';

const Params = Type.Object({ id: Uuid, seq: Seq, emoji: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });

export function reactionRoutes(app: HttpApp, ctx: AppContext): void {
  for (const [method, add] of [['PUT', true], ['DELETE', false]] as const) {
    app.route({
      method,
      url: '/api/v1/conversations/:id/messages/:seq/reactions/:emoji',
      config: { auth: 'required' },
      schema: {
        summary: add ? 'React to a message (or change your reaction)' : 'Take your reaction back',
        description: add
          ? 'One emoji (URL-encoded), e.g. `%F0%9F%91%8D`. A member has one reaction per message: this adds it, or replaces the one they had. Idempotent. Members get a `reaction` frame (`emoji`, `previous_emoji`) when something changed. A recalled message cannot be reacted to (409).'
          : 'Removes the caller\'s reaction when it is this emoji (else nothing happens). Idempotent. Members get a `reaction` frame (`emoji: null`, `previous_emoji`) when something changed.',
        security: bearer,
        params: Params,
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
      handler: async (req, reply) => {
        await react(ctx, identity(req), req.params.id, req.params.seq, req.params.emoji, add);
        return reply.code(204).send(null);
      },
    });
  }
}
