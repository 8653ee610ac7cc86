import type { AppContext } from '../context.js';
import type * as cq from '../db/queries/conversations.js';
import type * as mq from '../db/queries/messages.js';
import type { MemberStatus, MessageKind } from '../db/schema.js';

/** A message as members see it. `text` and `media_ids` are empty once recalled. */
export interface MessageView {
  id: string;
  conversation_id: string;
  seq: number;
  /** `user`, or `system`: sent by another service (`system_sender`), with no user sender. */
  kind: MessageKind;
  sender_id: string | null;
  /** The sender's account was deleted: clients show "deleted account" instead of a profile. */
  sender_deleted: boolean;
  system_sender: string | null;
  text: string | null;
  media_ids: string[];
  client_message_id: string | null;
  reply_to_seq: number | null;
  reactions: { emoji: string; count: number; user_ids: string[] }[];
  created_at: string;
  edited_at: string | null;
  recalled: boolean;
}

export interface MessageExtra {
  replyToSeq?: number | null;
  reactions?: Map<string, string[]>;
  senderDeleted?: boolean;
}

export function messageView(ctx: AppContext, row: mq.MessageRow, extra: MessageExtra = {}): MessageView {
  return {
    id: row.id,
    conversation_id: row.conversation_id,
    seq: Number(row.seq),
    kind: row.kind,
    sender_id: row.sender_id,
    sender_deleted: extra.senderDeleted ?? false,
    system_sender: row.system_sender,
    text: row.body_sealed === null ? null : ctx.cipher.open(row.id, row.body_sealed),
    media_ids: row.media_ids,
    client_message_id: row.client_id,
    reply_to_seq: extra.replyToSeq ?? null,
    reactions: [...(extra.reactions ?? new Map<string, string[]>())].map(([emoji, users]) => ({ emoji, count: users.length, user_ids: users })),
    created_at: row.created_at.toISOString(),
    edited_at: row.edited_at?.toISOString() ?? null,
    recalled: row.deleted_at !== null,
  };
}

export interface ConversationView {
  id: string;
  kind: 'direct' | 'group';
  mode: 'standard' | 'e2ee';
  name: string | null;
  avatar_media_id: string | null;
  created_by: string;
  role: 'owner' | 'admin' | 'member';
  /** `active`, or `request`: a message request the caller has not accepted yet. */
  status: Exclude<MemberStatus, 'declined'>;
  muted: boolean;
  archived: boolean;
  last_seq: number;
  last_read_seq: number;
  unread_count: number;
  last_message_at: string | null;
  created_at: string;
}

export function conversationView(c: cq.ConversationRow, m: Pick<cq.MemberRow, 'role' | 'last_read_seq' | 'visible_from_seq' | 'status' | 'muted' | 'archived'>): ConversationView {
  const last = Number(c.last_seq);
  const read = Math.max(Number(m.last_read_seq), Number(m.visible_from_seq));
  return {
    id: c.id,
    kind: c.kind,
    mode: c.mode,
    name: c.name,
    avatar_media_id: c.avatar_media_id,
    created_by: c.created_by,
    role: m.role,
    status: m.status === 'request' ? 'request' : 'active',
    muted: m.muted,
    archived: m.archived,
    last_seq: last,
    last_read_seq: Number(m.last_read_seq),
    unread_count: Math.max(0, last - read),
    last_message_at: c.last_message_at?.toISOString() ?? null,
    created_at: c.created_at.toISOString(),
  };
}
