import type { ColumnType } from '@nova/platform';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
/** bigint columns come back as strings from pg; the queries cast the ones they read to integers. */
type Seq = ColumnType<string, number | string | undefined, number | string>;

export type ConversationKind = 'direct' | 'group';
/** `standard`: bodies encrypted at rest by the server; `e2ee`: end-to-end encrypted device envelopes (issue 8). */
export type ConversationMode = 'standard' | 'e2ee';
export type MemberRole = 'owner' | 'admin' | 'member';
/** `request`: a direct conversation the member has not accepted (yet); `declined`: a request they deleted. */
export type MemberStatus = 'active' | 'request' | 'declined';
export type MessageKind = 'user' | 'system';

export interface ConversationsTable {
  id: string;
  kind: ConversationKind;
  mode: ColumnType<ConversationMode, ConversationMode | undefined, ConversationMode>;
  /** A group's name; null for direct conversations. */
  name: string | null;
  /** A group's avatar (a media id); null for direct conversations. */
  avatar_media_id: string | null;
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
  status: ColumnType<MemberStatus, MemberStatus | undefined, MemberStatus>;
  muted: ColumnType<boolean, boolean | undefined, boolean>;
  archived: ColumnType<boolean, boolean | undefined, boolean>;
}

export interface MessagesTable {
  id: string;
  conversation_id: string;
  seq: Seq;
  kind: ColumnType<MessageKind, MessageKind | undefined, MessageKind>;
  /** Null for system messages. */
  sender_id: string | null;
  /** The service (its mTLS identity) that sent a system message. */
  system_sender: string | null;
  media_ids: ColumnType<string[], string[] | undefined, string[]>;
  /** SecretBox v1 value (AES-256-GCM, AAD = the message id); null once recalled. */
  body_sealed: string | null;
  /** Id of the key that sealed the body (rotation: rows with an old id are re-sealed). */
  body_key_id: string | null;
  /** Blind index: HMAC of each normalised word under a subkey of body_key_id. */
  search_terms: ColumnType<string[], string[] | undefined, string[]>;
  /** Generated: array_to_tsvector(search_terms), GIN-indexed; queried with tsquery. */
  search_vector: ColumnType<string, never, never>;
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

/** A version of a message that an edit replaced (sealed like bodies, AAD = the edit's id). */
export interface MessageEditsTable {
  id: string;
  message_id: string;
  body_sealed: string | null;
  body_key_id: string | null;
  media_ids: ColumnType<string[], string[] | undefined, string[]>;
  /** When this version was written (the message's creation, or the edit before). */
  written_at: ColumnType<Date, Date | string, Date | string>;
  replaced_at: Timestamp;
}

export interface HiddenMessagesTable {
  user_id: string;
  message_id: string;
  hidden_at: Timestamp;
}

export interface DeletedAccountsTable {
  user_id: string;
  deleted_at: Timestamp;
}

type Bytes = Buffer;

export interface E2eeAccountsTable {
  user_id: string;
  /** libsignal's serialized identity public key: 0x05 ‖ the 32-byte Curve25519 u-coordinate. */
  identity_key: Bytes;
  identity_changed_at: Timestamp;
  created_at: Timestamp;
}

export interface DevicesTable {
  /** Internal id (envelopes and prekeys point at it); clients know a device by (user_id, device_id). */
  id: string;
  user_id: string;
  /** Signal's device id: 1 is the primary, 2-127 linked devices (the lowest free one is taken). */
  device_id: number;
  /** The session that registered the device: every device-scoped call finds the device through it. */
  session_id: string;
  registration_id: number;
  name: string | null;
  signed_prekey_id: number | null;
  signed_prekey: Bytes | null;
  signed_prekey_signature: Bytes | null;
  kyber_last_resort_id: number | null;
  kyber_last_resort: Bytes | null;
  kyber_last_resort_signature: Bytes | null;
  created_at: Timestamp;
  removed_at: NullableTimestamp;
  removed_by: string | null;
}

export interface OneTimePrekeysTable {
  device: string;
  kind: 'ec' | 'kyber';
  key_id: number;
  public_key: Bytes;
  signature: Bytes | null;
}

export interface EnvelopesTable {
  id: ColumnType<string, never, never>;
  recipient_device: string;
  sender_id: string;
  sender_device_id: number;
  conversation_id: string;
  type: number;
  content: Bytes;
  created_at: Timestamp;
}

export interface MessagingDb {
  e2ee_accounts: E2eeAccountsTable;
  devices: DevicesTable;
  one_time_prekeys: OneTimePrekeysTable;
  envelopes: EnvelopesTable;
  conversations: ConversationsTable;
  members: MembersTable;
  messages: MessagesTable;
  reactions: ReactionsTable;
  message_edits: MessageEditsTable;
  hidden_messages: HiddenMessagesTable;
  deleted_accounts: DeletedAccountsTable;
}
