import { bearer, ErrorBody, Type, Uuid } from '@nova/platform';

/** Shared by every service's routes (the platform's). */
export { ErrorBody, bearer, Uuid };

/** Schemas shared by the messaging service's routes. */

const NullableString = Type.Union([Type.String(), Type.Null()]);
const DateTime = Type.String({ format: 'date-time' });
const NullableDateTime = Type.Union([DateTime, Type.Null()]);
export const Seq = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

/** `:id` of a conversation. */
export const ConversationParams = Type.Object({ id: Uuid }, { additionalProperties: false });
/** `:id/messages/:seq`. */
export const MessageParams = Type.Object({ id: Uuid, seq: Seq }, { additionalProperties: false });

export const Mode = Type.Union([Type.Literal('standard'), Type.Literal('e2ee')], {
  description: '`standard`: the server encrypts bodies at rest and can read them (not end-to-end); `e2ee`: end-to-end encrypted: the server relays device envelopes it cannot read (docs/E2EE.md)',
});
export const Role = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);

export const ConversationSchema = Type.Object({
  id: Uuid,
  kind: Type.Union([Type.Literal('direct'), Type.Literal('group')]),
  mode: Mode,
  name: Type.Union([Type.String(), Type.Null()], { description: "a group's name (null for direct conversations)" }),
  avatar_media_id: Type.Union([Uuid, Type.Null()], { description: "a group's avatar, a media id" }),
  created_by: Uuid,
  role: Role,
  status: Type.Union([Type.Literal('active'), Type.Literal('request')], { description: '`request`: a message request the caller has not accepted yet' }),
  muted: Type.Boolean({ description: "the caller muted it (no pushes; MessageCreated lists them in muted_recipient_ids)" }),
  archived: Type.Boolean({ description: 'the caller archived it (listed with ?archived=true only)' }),
  last_seq: Type.Integer({ minimum: 0, description: 'sequence number of the latest message (0: none yet)' }),
  last_read_seq: Type.Integer({ minimum: 0 }),
  unread_count: Type.Integer({ minimum: 0 }),
  last_message_at: NullableDateTime,
  created_at: DateTime,
});

export const MemberSchema = Type.Object({
  user_id: Uuid,
  role: Role,
  joined_at: DateTime,
  last_delivered_seq: Type.Integer({ minimum: 0 }),
  last_read_seq: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'null when that member turned read receipts off' }),
});

export const MessageSchema = Type.Object({
  id: Uuid,
  conversation_id: Uuid,
  seq: Type.Integer({ minimum: 1, description: 'gap-free position in the conversation (1, 2, 3, …)' }),
  kind: Type.Union([Type.Literal('user'), Type.Literal('system')], { description: '`system`: posted by another service (`system_sender`), no user sender' }),
  sender_id: Type.Union([Uuid, Type.Null()], { description: 'null for system messages' }),
  sender_deleted: Type.Boolean({ description: "the sender's account was deleted: show a deleted account" }),
  system_sender: NullableString,
  text: Type.Union([Type.String(), Type.Null()], { description: 'null once recalled, or for a media-only message' }),
  media_ids: Type.Array(Uuid),
  client_message_id: NullableString,
  reply_to_seq: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  reactions: Type.Array(Type.Object({ emoji: Type.String(), count: Type.Integer({ minimum: 1 }), user_ids: Type.Array(Uuid) })),
  created_at: DateTime,
  edited_at: NullableDateTime,
  recalled: Type.Boolean(),
});

export const InboxItem = Type.Intersect([
  ConversationSchema,
  Type.Object({
    peer_id: Type.Union([Uuid, Type.Null()], { description: 'the other member of a direct conversation' }),
    last_message: Type.Union([MessageSchema, Type.Null()], { description: 'the latest message the caller may see (reactions not included)' }),
  }),
]);

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);

export const NextCursor = Type.Union([Type.String(), Type.Null()]);
