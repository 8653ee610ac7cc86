import { AppError, Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { acceptRequest, addMembers, createGroup, deleteRequest, getConversation, listConversations, listRequests, MAX_NAME, openDirect, removeMember, setFlags, setMemberRole, updateGroup } from '../../../domain/conversations.js';
import { identity, requestMeta } from '../request.js';
import { bearer, ConversationParams, ConversationSchema, ErrorBody, InboxItem, MemberSchema, Mode, NextCursor, PageQuery, Role, Uuid } from '../schemas.js';

const CreateBody = Type.Object(
  {
    type: Type.Union([Type.Literal('direct'), Type.Literal('group')]),
    user_id: Type.Optional(Uuid),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_NAME })),
    avatar_media_id: Type.Optional(Uuid),
    member_ids: Type.Optional(Type.Array(Uuid, { minItems: 1, maxItems: 10_000 })),
    mode: Type.Optional(Mode),
  },
  { additionalProperties: false },
);

export function conversationRoutes(app: HttpApp, ctx: AppContext): void {
  app.post(
    '/api/v1/conversations',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Open a direct conversation or create a group',
        description: [
          '`{"type":"direct","user_id":…}` returns the conversation with that user: 200 when it already existed, 201 when it was made.',
          'A block either way forbids it (403). When the other user\'s `who_can_message` setting (`everyone`; `followers` = the caller follows them; `nobody`) does not admit the caller, the conversation is made as a **message request**: the caller writes as usual, the other user finds it under `GET /api/v1/conversations/requests` (no normal notification or frames) and accepts or deletes it.',
          '`{"type":"group","name":…,"avatar_media_id"?:…,"member_ids":[…]}` makes a group (at most MESSAGING_MAX_GROUP_MEMBERS members, default 256) with the caller as owner (201); every member must accept messages from the caller, else 403 with the refusing ids in `details.user_ids` (a block and the setting look the same). Unknown users: 404.',
          '`mode: "e2ee"`: end-to-end encrypted (docs/E2EE.md): the server stores no content; members send device envelopes (POST …/envelopes). A pair of users may have one standard and one e2ee direct conversation.',
        ].join(' '),
        security: bearer,
        body: CreateBody,
        response: { 200: ConversationSchema, 201: ConversationSchema, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const mode = b.mode ?? 'standard';
      if (b.type === 'direct') {
        if (b.user_id === undefined || b.name !== undefined || b.avatar_media_id !== undefined || b.member_ids !== undefined) {
          throw new AppError('VALIDATION_FAILED', 'a direct conversation takes user_id (and no name, avatar_media_id or member_ids)', { details: { field: 'user_id' } });
        }
        const { view, created } = await openDirect(ctx, identity(req), b.user_id, mode, requestMeta(req));
        return reply.code(created ? 201 : 200).send(view);
      }
      if (b.name === undefined || b.member_ids === undefined || b.user_id !== undefined) {
        throw new AppError('VALIDATION_FAILED', 'a group takes name and member_ids (and no user_id)', { details: { field: b.name === undefined ? 'name' : 'member_ids' } });
      }
      return reply.code(201).send(await createGroup(ctx, identity(req), { name: b.name, avatar_media_id: b.avatar_media_id, member_ids: b.member_ids, mode }, requestMeta(req)));
    },
  );

  app.get(
    '/api/v1/conversations',
    {
      config: { auth: 'required' },
      schema: {
        summary: "The caller's conversations, latest activity first",
        description:
          "Keyset-paginated (`next_cursor`). Each with `unread_count` (messages after the caller's read position), `last_message` (the latest the caller may see) and the caller's own `muted` and `archived` flags. Archived conversations are listed with `archived=true` only; pending message requests under `/api/v1/conversations/requests`.",
        security: bearer,
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
            archived: Type.Optional(Type.Boolean({ default: false })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(InboxItem), next_cursor: NextCursor }), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req) => listConversations(ctx, identity(req), req.query.limit ?? 20, req.query.cursor, req.query.archived ?? false),
  );

  app.get(
    '/api/v1/conversations/requests',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Pending message requests',
        description:
          "Direct conversations opened by users the caller's `who_can_message` setting does not admit, latest activity first, with the sender's last message. The sender's messages wait here (readable with GET …/:id/messages); nothing else (sending, read receipts, typing) until accepted.",
        security: bearer,
        querystring: PageQuery,
        response: { 200: Type.Object({ items: Type.Array(InboxItem), next_cursor: NextCursor }), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req) => listRequests(ctx, identity(req), req.query.limit ?? 20, req.query.cursor),
  );

  app.post(
    '/api/v1/conversations/requests/:id/accept',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Accept a message request',
        description: 'The conversation becomes a normal one for the caller (inbox, frames, notifications); the sender gets a `request_accepted` frame. 404 when there is no pending request.',
        security: bearer,
        params: ConversationParams,
        response: { 200: ConversationSchema, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => acceptRequest(ctx, identity(req), req.params.id, requestMeta(req)),
  );

  app.delete(
    '/api/v1/conversations/requests/:id',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Delete a message request',
        description: 'It disappears for the caller; the sender is not told. If the sender writes again, a new request shows only the messages from then on. 404 when there is no pending request.',
        security: bearer,
        params: ConversationParams,
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      await deleteRequest(ctx, identity(req), req.params.id);
      return reply.code(204).send(null);
    },
  );

  app.patch(
    '/api/v1/conversations/:id/me',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Mute or archive a conversation (for the caller only)',
        description: 'Muted: new messages are not pushed to the caller (MessageCreated lists them in `muted_recipient_ids`, not `offline_recipient_ids`). Archived: listed with `GET /api/v1/conversations?archived=true` only; a new message does not unarchive it.',
        security: bearer,
        params: ConversationParams,
        body: Type.Object({ muted: Type.Optional(Type.Boolean()), archived: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: ConversationSchema, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (req) => setFlags(ctx, identity(req), req.params.id, req.body),
  );

  app.get(
    '/api/v1/conversations/:id',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'A conversation with its members',
        description: "Members only (404 for anyone else; a pending message request can be looked at). Each member's delivered and read positions; the read one is null for members who turned read receipts off.",
        security: bearer,
        params: ConversationParams,
        response: { 200: Type.Intersect([ConversationSchema, Type.Object({ members: Type.Array(MemberSchema) })]), 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => getConversation(ctx, identity(req), req.params.id),
  );

  app.patch(
    '/api/v1/conversations/:id',
    {
      config: { auth: 'required' },
      schema: {
        summary: "Change a group's name or avatar",
        description: "The group's owner or an admin. `avatar_media_id: null` removes the avatar. Emits ConversationUpdated; members get a `conversation_updated` frame.",
        security: bearer,
        params: ConversationParams,
        body: Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_NAME })), avatar_media_id: Type.Optional(Type.Union([Uuid, Type.Null()])) }, { additionalProperties: false }),
        response: { 200: ConversationSchema, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => updateGroup(ctx, identity(req), req.params.id, req.body, requestMeta(req)),
  );

  app.post(
    '/api/v1/conversations/:id/members',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Add members to a group',
        description: "The group's owner or an admin; each new member must accept messages from the caller (403 otherwise). New members see messages from now on, not the earlier history. Returns the ids actually added (existing members are skipped).",
        security: bearer,
        params: ConversationParams,
        body: Type.Object({ user_ids: Type.Array(Uuid, { minItems: 1, maxItems: 256 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ added: Type.Array(Uuid) }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => ({ added: await addMembers(ctx, identity(req), req.params.id, req.body.user_ids, requestMeta(req)) }),
  );

  app.delete(
    '/api/v1/conversations/:id/members/:userId',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'Leave a group, or remove a member',
        description: "Your own id leaves the group; the owner or an admin may remove others (not the owner). When the owner leaves, the longest-standing admin (else member) becomes owner. Direct conversations cannot be left.",
        security: bearer,
        params: Type.Object({ id: Uuid, userId: Uuid }, { additionalProperties: false }),
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      await removeMember(ctx, identity(req), req.params.id, req.params.userId, requestMeta(req));
      return reply.code(204).send(null);
    },
  );

  app.patch(
    '/api/v1/conversations/:id/members/:userId',
    {
      config: { auth: 'required' },
      schema: {
        summary: "Change a group member's role",
        description: "The owner only: `admin` (may rename, add and remove members, recall any message) or `member`; `owner` hands the group over and makes the caller an admin. 204 also when nothing changed.",
        security: bearer,
        params: Type.Object({ id: Uuid, userId: Uuid }, { additionalProperties: false }),
        body: Type.Object({ role: Role }, { additionalProperties: false }),
        response: { 204: Type.Null(), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (req, reply) => {
      await setMemberRole(ctx, identity(req), req.params.id, req.params.userId, req.body.role, requestMeta(req));
      return reply.code(204).send(null);
    },
  );
}
