import { Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { editMessage, hideMessage, listMessages, MAX_CLIENT_ID, MAX_MEDIA, MAX_TEXT, messageVersions, recallMessage, sendMessage, TEXT_PATTERN } from '../../../domain/messages.js';
import { identity, requestMeta } from '../request.js';
import { bearer, ConversationParams, ErrorBody, MessageParams, MessageSchema, Seq, Uuid } from '../schemas.js';

const Text = Type.String({ minLength: 1, maxLength: MAX_TEXT, pattern: TEXT_PATTERN });

export function messageRoutes(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/conversations/:id/messages',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Send a message',
        description: [
          `\`text\` of at most ${MAX_TEXT} characters and/or \`media_ids\` (at most ${MAX_MEDIA}), optionally replying to a message by its seq (\`reply_to\`). The message gets the conversation's next sequence number (gap-free, in commit order) and is pushed to every active member's WebSocket (a member with a pending message request gets a \`message_request\` frame instead); MessageCreated is emitted through the outbox (without the text) with the recipients who have no open socket, for push notifications.`,
          `With a \`client_message_id\` (at most ${MAX_CLIENT_ID} characters, unique per sender and conversation), a retry returns the message the first call made with 200 instead of 201.`,
          'In a direct conversation a block either way forbids sending (403), and so does the other user having left (deleted account). Non-members: 404; the recipient of a pending message request: 409 (`details.reason: message_request`) until they accept it. An e2ee conversation: 409 (`details.reason: e2ee_conversation`): send envelopes instead.',
        ].join(' '),
        security: bearer,
        params: ConversationParams,
        body: Type.Object(
          {
            text: Type.Optional(Text),
            media_ids: Type.Optional(Type.Array(Uuid, { minItems: 1, maxItems: MAX_MEDIA, description: 'ids of media uploaded through the media service (not checked here until the media service exposes them over gRPC)' })),
            client_message_id: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_CLIENT_ID })),
            reply_to: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'the seq of the message this one replies to (shown as `reply_to_seq`)' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: MessageSchema, 201: MessageSchema, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
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
        description: 'Its sender only (403), within MESSAGING_EDIT_WINDOW_SECONDS of sending (default 24 h; 409 `details.reason: edit_window_passed`), not once recalled (409). The replaced version is kept (`GET …/:seq/edits`). Members get a `message_edited` frame; MessageEdited is emitted.',
        security: bearer,
        params: MessageParams,
        body: Type.Object({ text: Text }, { additionalProperties: false }),
        response: { 200: MessageSchema, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (req) => editMessage(ctx, identity(req), req.params.id, req.params.seq, req.body.text, requestMeta(req)),
  );

  app.get(
    '/api/v1/conversations/:id/messages/:seq/edits',
    {
      config: { auth: 'required' },
      schema: {
        summary: "A message's edit history",
        description: 'Every version, oldest first; the current one last (`replaced_at: null`). Members only. A recall erases the history with the message.',
        security: bearer,
        params: MessageParams,
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                text: Type.Union([Type.String(), Type.Null()]),
                media_ids: Type.Array(Uuid),
                written_at: Type.String({ format: 'date-time' }),
                replaced_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
              }),
            ),
          }),
          400: ErrorBody,
          401: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (req) => ({ items: await messageVersions(ctx, identity(req), req.params.id, req.params.seq) }),
  );

  app.delete(
    '/api/v1/conversations/:id/messages/:seq',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Recall a message (delete for everyone), or delete it for yourself',
        description:
          "`for=everyone` (the default) recalls: its sender within MESSAGING_RECALL_WINDOW_SECONDS (default 1 h; 409 `details.reason: recall_window_passed` after), or a group's owner or admin at any time. The text, media and edit history are erased; the message stays as a tombstone (`recalled: true`) so sequence numbers stay gap-free; members get a `message_recalled` frame. `for=me` deletes it for the caller only, any message, at any time: it disappears from their history, search and resume; their other devices get `message_hidden`.",
        security: bearer,
        params: MessageParams,
        querystring: Type.Object({ for: Type.Optional(Type.Union([Type.Literal('everyone'), Type.Literal('me')], { default: 'everyone' })) }, { additionalProperties: false }),
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (req, reply) => {
      if (req.query.for === 'me') await hideMessage(ctx, identity(req), req.params.id, req.params.seq);
      else await recallMessage(ctx, identity(req), req.params.id, req.params.seq, requestMeta(req));
      return reply.code(204).send(null);
    },
  );
}
