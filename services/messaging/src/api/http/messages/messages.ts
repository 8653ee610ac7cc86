import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { editMessage, listMessages, MAX_CLIENT_ID, MAX_TEXT, recallMessage, sendMessage, TEXT_PATTERN } from '../../../domain/messages.js';
import { identity, requestMeta } from '../request.js';
import { bearer, ConversationParams, ErrorBody, MessageParams, MessageSchema, Seq } from '../schemas.js';

const Text = Type.String({ minLength: 1, maxLength: MAX_TEXT, pattern: TEXT_PATTERN });

export function messageRoutes(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/conversations/:id/messages',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Send a message',
        description: [
          `Text of at most ${MAX_TEXT} characters, optionally replying to a message by its seq. The message gets the conversation's next sequence number (gap-free, in commit order) and is pushed to every member's WebSocket; MessageSent is emitted (without the text).`,
          `With a \`client_id\` (at most ${MAX_CLIENT_ID} characters, unique per sender and conversation), a retry returns the message the first call made with 200 instead of 201.`,
          'In a direct conversation the other user must still accept messages from the caller (403 otherwise; once they have written in the conversation, their who_can_message setting no longer stops replies, a block does). Non-members: 404. An e2ee conversation: 501.',
        ].join(' '),
        security: bearer,
        params: ConversationParams,
        body: Type.Object({ text: Text, client_id: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_CLIENT_ID })), reply_to_seq: Type.Optional(Seq) }, { additionalProperties: false }),
        response: { 200: MessageSchema, 201: MessageSchema, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 501: ErrorBody },
      },
    },
    async (req, reply) => {
      const { view, created } = await sendMessage(ctx, identity(req), req.params.id, req.body, requestMeta(req));
      return reply.code(created ? 201 : 200).send(view);
    },
  );

  app.get(
    '/api/v1/conversations/:id/messages',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Messages of a conversation',
        description:
          'Keyset on the sequence number: without a position, or with `before_seq`, the newest first (scrolling back); with `after_seq`, the oldest first (catching up after a reconnect). `has_more` says whether more lie in that direction. Members only; a group member sees the messages sent since they joined. Recalled messages stay as tombstones (`recalled: true`, `text: null`).',
        security: bearer,
        params: ConversationParams,
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })), before_seq: Type.Optional(Seq), after_seq: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(MessageSchema), has_more: Type.Boolean() }), 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => listMessages(ctx, identity(req), req.params.id, { limit: req.query.limit ?? 50, before_seq: req.query.before_seq, after_seq: req.query.after_seq }),
  );

  app.patch(
    '/api/v1/conversations/:id/messages/:seq',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Edit a message',
        description: 'Its sender only (403), within MESSAGING_EDIT_WINDOW_SECONDS of sending (409 `details.reason: edit_window_passed`), not once recalled (409). Members get a `message_edited` frame; MessageEdited is emitted.',
        security: bearer,
        params: MessageParams,
        body: Type.Object({ text: Text }, { additionalProperties: false }),
        response: { 200: MessageSchema, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (req) => editMessage(ctx, identity(req), req.params.id, req.params.seq, req.body.text, requestMeta(req)),
  );

  app.delete(
    '/api/v1/conversations/:id/messages/:seq',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Recall a message (delete for everyone)',
        description: "Its sender within MESSAGING_RECALL_WINDOW_SECONDS (409 after), or a group's owner or admin at any time. The text is erased; the message stays as a tombstone so sequence numbers stay gap-free. Members get a `message_recalled` frame.",
        security: bearer,
        params: MessageParams,
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (req, reply) => {
      await recallMessage(ctx, identity(req), req.params.id, req.params.seq, requestMeta(req));
      return reply.code(204).send(null);
    },
  );
}
