import { AppError, Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../../context.js';
import { addMembers, createGroup, getConversation, listConversations, MAX_TITLE, openDirect, removeMember, renameGroup, setMemberRole } from '../../../domain/conversations.js';
import { identity, requestMeta } from '../request.js';
import { bearer, ConversationParams, ConversationSchema, ErrorBody, InboxItem, MemberSchema, Mode, NextCursor, PageQuery, Role, Uuid } from '../schemas.js';

const CreateBody = Type.Object(
  {
    type: Type.Union([Type.Literal('direct'), Type.Literal('group')]),
    user_id: Type.Optional(Uuid),
    title: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_TITLE })),
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
          '`{"type":"group","title":…,"member_ids":[…]}` makes a group with the caller as owner (201).',
          'Every other user must accept messages from the caller (no block either way; their `who_can_message` setting: `everyone`, `followers` = the caller follows them, or `nobody`), else 403 with the refusing ids in `details.user_ids` (a block and the setting look the same). Unknown users: 404.',
          '`mode: "e2ee"` answers 501 NOT_IMPLEMENTED until end-to-end encryption lands.',
        ].join(' '),
        security: bearer,
        body: CreateBody,
        response: { 200: ConversationSchema, 201: ConversationSchema, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 501: ErrorBody },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const mode = b.mode ?? 'standard';
      if (b.type === 'direct') {
        if (b.user_id === undefined || b.title !== undefined || b.member_ids !== undefined) {
          throw new AppError('VALIDATION_FAILED', 'a direct conversation takes user_id (and no title or member_ids)', { details: { field: 'user_id' } });
        }
        const { view, created } = await openDirect(ctx, identity(req), b.user_id, mode, requestMeta(req));
        return reply.code(created ? 201 : 200).send(view);
      }
      if (b.title === undefined || b.member_ids === undefined || b.user_id !== undefined) {
        throw new AppError('VALIDATION_FAILED', 'a group takes title and member_ids (and no user_id)', { details: { field: b.title === undefined ? 'title' : 'member_ids' } });
      }
      return reply.code(201).send(await createGroup(ctx, identity(req), { title: b.title, member_ids: b.member_ids, mode }, requestMeta(req)));
    },
  );

  app.get(
    '/api/v1/conversations',
    {
      config: { auth: 'required' },
      schema: {
        summary: "The caller's conversations, latest activity first",
        description: 'Keyset-paginated (`next_cursor`); `unread_count` counts messages after the caller\'s read position.',
        security: bearer,
        querystring: PageQuery,
        response: { 200: Type.Object({ items: Type.Array(InboxItem), next_cursor: NextCursor }), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (req) => listConversations(ctx, identity(req), req.query.limit ?? 20, req.query.cursor),
  );

  app.get(
    '/api/v1/conversations/:id',
    {
      config: { auth: 'required' },
      schema: {
        summary: 'A conversation with its members',
        description: "Members only (404 for anyone else). Each member's delivered and read positions; the read one is null for members who turned read receipts off.",
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
        summary: 'Rename a group',
        description: "The group's owner or an admin. Emits ConversationUpdated; members get a `conversation_updated` frame.",
        security: bearer,
        params: ConversationParams,
        body: Type.Object({ title: Type.String({ minLength: 1, maxLength: MAX_TITLE }) }, { additionalProperties: false }),
        response: { 200: ConversationSchema, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (req) => renameGroup(ctx, identity(req), req.params.id, req.body.title, requestMeta(req)),
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
        body: Type.Object({ user_ids: Type.Array(Uuid, { minItems: 1, maxItems: 500 }) }, { additionalProperties: false }),
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
