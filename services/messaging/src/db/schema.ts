import type { ColumnType } from '@nova/platform';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
/** bigint columns come back as strings from pg; the queries cast the ones they read to integers. */
type Seq = ColumnType<string, number | string | undefined, number | string>;

export type ConversationKind = 'direct' | 'group';
/** `standard`: bodies encrypted at rest by the server; `e2ee`: device envelopes (issue 8, not accepted yet). */
export type ConversationMode = 'standard' | 'e2ee';
export type MemberRole = 'owner' | 'admin' | 'member';

export interface ConversationsTable {
  id: string;
  kind: ConversationKind;
  mode: ColumnType<ConversationMode, ConversationMode | undefined, ConversationMode>;
  title: string | null;
  /** `<smaller id>:<larger id>` of a direct conversation (one per pair); null for groups. */
  direct_key: string | null;
  created_by: string;
  last_seq: Seq;
  last_message_at: NullableTimestamp;
  /** Last message, or creation: the inbox order. */
  activity_at: Timestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: NullableTimestamp;
  deleted_by: string | null;
}

export interface MembersTable {
  conversation_id: string;
  user_id: string;
  role: MemberRole;
  /** The member sees messages with a seq above this (a group's history before they joined stays hidden). */
  visible_from_seq: Seq;
  last_read_seq: Seq;
  last_delivered_seq: Seq;
  joined_at: Timestamp;
  added_by: string | null;
  left_at: NullableTimestamp;
  left_by: string | null;
}

export interface MessagesTable {
  id: string;
  conversation_id: string;
  seq: Seq;
  sender_id: string;
  /** SecretBox v1 value (AES-256-GCM, AAD = the message id); null once recalled. */
  body_sealed: string | null;
  /** Id of the key that sealed the body (rotation: rows with an old id are re-sealed). */
  body_key_id: string | null;
  /** Blind index: HMAC of each normalised word under a subkey of body_key_id. */
  search_terms: ColumnType<string[], string[] | undefined, string[]>;
  client_id: string | null;
  reply_to_id: string | null;
  created_at: Timestamp;
  edited_at: NullableTimestamp;
  deleted_at: NullableTimestamp;
  deleted_by: string | null;
}

export interface ReactionsTable {
  message_id: string;
  user_id: string;
  emoji: string;
  created_at: Timestamp;
}

export interface MessagingDb {
  conversations: ConversationsTable;
  members: MembersTable;
  messages: MessagesTable;
  reactions: ReactionsTable;
}
