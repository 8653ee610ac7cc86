import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { advance } from '../../../domain/receipts.js';
import { identity } from '../request.js';
import { bearer, ConversationParams, ErrorBody, Seq } from '../schemas.js';

export function receiptRoutes(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/conversations/:id/read',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Mark a conversation read up to a message',
        description:
          "Moves the caller's read (and delivered) position to `seq`: never back, never past the last message. Other members of conversations up to MESSAGING_RECEIPT_FANOUT_MAX_MEMBERS members get a `receipt` frame (without the read position when the caller turned read receipts off). The same as the WebSocket `read` frame.",
        security: bearer,
        params: ConversationParams,
        body: Type.Object({ seq: Seq }, { additionalProperties: false }),
        response: { 200: Type.Object({ last_read_seq: Type.Integer({ minimum: 0 }), last_delivered_seq: Type.Integer({ minimum: 0 }) }), 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => advance(ctx, identity(req), req.params.id, { read: req.body.seq }),
  );
}
