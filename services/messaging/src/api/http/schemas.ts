import { Type } from '@nova/platform';

/** Schemas shared by the messaging service's routes. */

export const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), request_id: Type.String(), details: Type.Optional(Type.Unknown()) }),
});

export const bearer = [{ bearerAuth: [] }];

export const Uuid = Type.String({ format: 'uuid' });
const NullableString = Type.Union([Type.String(), Type.Null()]);
const DateTime = Type.String({ format: 'date-time' });
const NullableDateTime = Type.Union([DateTime, Type.Null()]);
export const Seq = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

/** `:id` of a conversation. */
export const ConversationParams = Type.Object({ id: Uuid }, { additionalProperties: false });
/** `:id/messages/:seq`. */
export const MessageParams = Type.Object({ id: Uuid, seq: Seq }, { additionalProperties: false });

export const Mode = Type.Union([Type.Literal('standard'), Type.Literal('e2ee')], {
  description: '`standard`: the server encrypts bodies at rest and can read them (not end-to-end); `e2ee`: end-to-end encrypted (not supported yet: 501 NOT_IMPLEMENTED)',
});
export const Role = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);

export const ConversationSchema = Type.Object({
  id: Uuid,
  kind: Type.Union([Type.Literal('direct'), Type.Literal('group')]),
  mode: Mode,
  title: NullableString,
  created_by: Uuid,
  role: Role,
  last_seq: Type.Integer({ minimum: 0, description: 'sequence number of the latest message (0: none yet)' }),
  last_read_seq: Type.Integer({ minimum: 0 }),
  unread_count: Type.Integer({ minimum: 0 }),
  last_message_at: NullableDateTime,
  created_at: DateTime,
});

export const InboxItem = Type.Intersect([ConversationSchema, Type.Object({ peer_id: Type.Union([Uuid, Type.Null()], { description: 'the other member of a direct conversation' }) })]);

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
  sender_id: Uuid,
  text: Type.Union([Type.String(), Type.Null()], { description: 'null once recalled' }),
  client_id: NullableString,
  reply_to_seq: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  reactions: Type.Array(Type.Object({ emoji: Type.String(), count: Type.Integer({ minimum: 1 }), user_ids: Type.Array(Uuid) })),
  created_at: DateTime,
  edited_at: NullableDateTime,
  recalled: Type.Boolean(),
});

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);

export const NextCursor = Type.Union([Type.String(), Type.Null()]);
