import { AppError, newId, type AuthIdentity, type DbOrTx } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as cq from '../db/queries/conversations.js';
import * as mq from '../db/queries/messages.js';
import { reactionsOf } from '../db/queries/reactions.js';
import type { MessagingDb } from '../db/schema.js';
import { acceptance, conversationNotFound, memberOf, notAccepting, type Membership } from './access.js';
import { e2eeNotSupported, type RequestMeta } from './conversations.js';
import { messageView, type MessageView } from './views.js';

export const MAX_TEXT = 4_000;
export const MAX_CLIENT_ID = 100;
/** Message text: anything but NUL, which PostgreSQL text cannot hold. */
export const TEXT_PATTERN = '^[^\\u0000]*$';

export interface NewMessage {
  text: string;
  client_id?: string | undefined;
  reply_to_seq?: number | undefined;
}

function cleanText(text: string): string {
  if (text.trim().length === 0) throw new AppError('VALIDATION_FAILED', 'a message needs text', { details: { field: 'text' } });
  if (text.length > MAX_TEXT) throw new AppError('VALIDATION_FAILED', `a message has at most ${MAX_TEXT} characters`, { details: { field: 'text' } });
  if (text.includes('\u0000')) throw new AppError('VALIDATION_FAILED', 'text must not contain NUL', { details: { field: 'text' } });
  return text;
}

/**
 * In a direct conversation, the other member must still accept messages from the sender: a block either
 * way always stops it; their who_can_message setting stops it unless they have written in this
 * conversation themselves (a conversation they took part in stays open to replies).
 */
async function assertMaySend(ctx: AppContext, m: Membership, senderId: string): Promise<void> {
  if (m.conversation.kind !== 'direct') return;
  const other = m.conversation.direct_key!.split(':').find((id) => id !== senderId)!;
  const { accepting, missing } = await acceptance(ctx, senderId, [other]);
  if (accepting.has(other)) return;
  if (missing.length === 0 && !(await ctx.users.isBlocked(senderId, other)) && (await mq.hasSent(ctx.db, m.conversation.id, other))) return;
  throw notAccepting();
}

async function hydrate(ctx: AppContext, db: DbOrTx<MessagingDb>, rows: readonly mq.MessageRow[]): Promise<MessageView[]> {
  const replyIds = [...new Set(rows.flatMap((r) => (r.reply_to_id ? [r.reply_to_id] : [])))];
  const [replies, reactions] = await Promise.all([mq.findByIds(db, replyIds), reactionsOf(db, rows.map((r) => r.id))]);
  const seqOf = new Map(replies.map((r) => [r.id, Number(r.seq)]));
  return rows.map((r) => messageView(ctx, r, { replyToSeq: r.reply_to_id ? (seqOf.get(r.reply_to_id) ?? null) : null, reactions: reactions.get(r.id) ?? new Map() }));
}

/**
 * Sends a message: the conversation's next sequence number is taken (row lock: gap-free under concurrent
 * senders), the body sealed, the sender's read position moved to it, and MessageSent written, all in one
 * transaction. With a client_id, a retry returns the first call's message (`created: false`). After the
 * commit the message goes to every member's sockets.
 */
export async function sendMessage(ctx: AppContext, caller: AuthIdentity, conversationId: string, input: NewMessage, meta: RequestMeta): Promise<{ view: MessageView; created: boolean }> {
  const me = caller.userId;
  const text = cleanText(input.text);
  const pre = await memberOf(ctx.db, conversationId, me);
  const convId = pre.conversation.id;
  if (input.client_id !== undefined) {
    const existing = await mq.findByClientId(ctx.db, convId, me, input.client_id);
    if (existing) return { view: (await hydrate(ctx, ctx.db, [existing]))[0]!, created: false };
  }
  if (pre.conversation.mode === 'e2ee') throw e2eeNotSupported();
  await assertMaySend(ctx, pre, me);

  const id = newId();
  const sealed = ctx.cipher.seal(id, text);
  const outcome = await ctx.db.transaction().execute(async (tx) => {
    // The conversation row first (lock order), then the membership: a member removed meanwhile cannot send.
    const next = await cq.nextSeq(tx, convId);
    if (!next) throw new AppError('NOT_FOUND', 'conversation not found');
    const member = await cq.findMember(tx, convId, me, true);
    if (!member) throw conversationNotFound();
    let replyToId: string | null = null;
    if (input.reply_to_seq !== undefined) {
      const target = await mq.findBySeq(tx, convId, input.reply_to_seq);
      if (!target || Number(target.seq) <= Number(member.visible_from_seq)) throw new AppError('NOT_FOUND', 'reply_to_seq: message not found', { details: { field: 'reply_to_seq' } });
      replyToId = target.id;
    }
    const row = await mq.insertMessage(tx, { id, conversation_id: convId, seq: next.seq, sender_id: me, ...sealed, client_id: input.client_id ?? null, reply_to_id: replyToId, created_at: next.at });
    // A retry with the same client_id raced this one and won: roll back the sequence number we took.
    if (!row) throw new ClientIdTaken();
    await cq.advancePositions(tx, convId, me, { read: next.seq });
    const recipients = (await cq.activeMemberIds(tx, convId)).filter((u) => u !== me);
    await ctx.outbox.add(tx, {
      aggregate: 'message',
      action: 'sent',
      type: 'MessageSent',
      entityId: id,
      data: { conversation_id: convId, message_id: id, seq: next.seq, sender_id: me, kind: pre.conversation.kind, recipient_ids: recipients, created_at: next.at.toISOString() },
      correlationId: meta.correlationId ?? null,
    });
    return { row, recipients };
  }).catch(async (err: unknown) => {
    if (!(err instanceof ClientIdTaken)) throw err;
    return undefined;
  });
  if (!outcome) {
    const existing = await mq.findByClientId(ctx.db, convId, me, input.client_id!);
    if (!existing) throw new AppError('CONFLICT', 'a request with this client_id is still in progress');
    return { view: (await hydrate(ctx, ctx.db, [existing]))[0]!, created: false };
  }
  // A new message has no reactions yet and its reply target is the seq asked for: no reads needed.
  const view = messageView(ctx, outcome.row, { replyToSeq: input.reply_to_seq ?? null });
  ctx.metrics.messagesSent.inc({ kind: pre.conversation.kind });
  await ctx.realtime.publish([me, ...outcome.recipients], { type: 'message', conversation_id: convId, message: view });
  return { view, created: true };
}

class ClientIdTaken extends Error {}

export interface HistoryQuery {
  limit: number;
  /** Newest first, strictly below this seq (scrolling back); absent with after_seq too: the newest. */
  before_seq?: number | undefined;
  /** Oldest first, strictly above this seq (catching up). */
  after_seq?: number | undefined;
}

/**
 * A page of a conversation's messages the caller may see (not those before they joined a group). Keyset
 * on the sequence number: `before_seq` walks back newest first, `after_seq` forward oldest first.
 * `has_more` says whether another page lies in that direction.
 */
export async function listMessages(ctx: AppContext, caller: AuthIdentity, conversationId: string, q: HistoryQuery): Promise<{ items: MessageView[]; has_more: boolean }> {
  if (q.before_seq !== undefined && q.after_seq !== undefined) throw new AppError('VALIDATION_FAILED', 'give before_seq or after_seq, not both', { details: { field: 'after_seq' } });
  const { conversation, member } = await memberOf(ctx.db, conversationId, caller.userId);
  const floor = Number(member.visible_from_seq);
  const rows =
    q.after_seq !== undefined
      ? await mq.pageAfter(ctx.db, conversation.id, Math.max(q.after_seq, floor), q.limit + 1)
      : await mq.pageBefore(ctx.db, conversation.id, floor, q.before_seq, q.limit + 1);
  return { items: await hydrate(ctx, ctx.db, rows.slice(0, q.limit)), has_more: rows.length > q.limit };
}

/** The messages after `afterSeq` a member may see, oldest first (WebSocket resume). */
export async function catchUp(ctx: AppContext, userId: string, conversationId: string, afterSeq: number, limit: number): Promise<{ conversationId: string; items: MessageView[]; complete: boolean; lastSeq: number }> {
  const { conversation, member } = await memberOf(ctx.db, conversationId, userId);
  const rows = await mq.pageAfter(ctx.db, conversation.id, Math.max(afterSeq, Number(member.visible_from_seq)), limit + 1);
  return { conversationId: conversation.id, items: await hydrate(ctx, ctx.db, rows.slice(0, limit)), complete: rows.length <= limit, lastSeq: Number(conversation.last_seq) };
}

/** A visible message of a conversation the caller is in, locked when inside a transaction that changes it. */
export async function visibleMessage(db: DbOrTx<MessagingDb>, m: Membership, seq: number, lock: boolean): Promise<mq.MessageRow> {
  const row = await mq.findBySeq(db, m.conversation.id, seq, lock);
  if (!row || Number(row.seq) <= Number(m.member.visible_from_seq)) throw new AppError('NOT_FOUND', 'message not found');
  return row;
}

/** Edits a message's text: its sender only, within MESSAGING_EDIT_WINDOW_SECONDS, not once recalled. */
export async function editMessage(ctx: AppContext, caller: AuthIdentity, conversationId: string, seq: number, text: string, meta: RequestMeta): Promise<MessageView> {
  const clean = cleanText(text);
  const row = await ctx.db.transaction().execute(async (tx) => {
    const m = await memberOf(tx, conversationId, caller.userId, true);
    if (m.conversation.mode === 'e2ee') throw e2eeNotSupported();
    const msg = await visibleMessage(tx, m, seq, true);
    if (msg.sender_id !== caller.userId) throw new AppError('FORBIDDEN', 'only its sender may edit a message');
    if (msg.deleted_at !== null) throw new AppError('CONFLICT', 'a recalled message cannot be edited', { details: { reason: 'recalled' } });
    if (Date.now() - msg.created_at.getTime() > ctx.config.MESSAGING_EDIT_WINDOW_SECONDS * 1000) {
      throw new AppError('CONFLICT', `a message can be edited for ${ctx.config.MESSAGING_EDIT_WINDOW_SECONDS} seconds after it was sent`, { details: { reason: 'edit_window_passed' } });
    }
    if (ctx.cipher.open(msg.id, msg.body_sealed!) === clean) return msg;
    const updated = await mq.updateBody(tx, msg.id, ctx.cipher.seal(msg.id, clean), true);
    await ctx.outbox.add(tx, { aggregate: 'message', action: 'edited', type: 'MessageEdited', entityId: msg.id, data: { conversation_id: msg.conversation_id, message_id: msg.id, seq: Number(msg.seq), sender_id: msg.sender_id }, correlationId: meta.correlationId ?? null });
    return updated;
  });
  const view = (await hydrate(ctx, ctx.db, [row]))[0]!;
  await ctx.realtime.publish(await cq.activeMemberIds(ctx.db, row.conversation_id), { type: 'message_edited', conversation_id: row.conversation_id, message: view });
  return view;
}

/**
 * Recalls (deletes for everyone) a message: its sender within MESSAGING_RECALL_WINDOW_SECONDS, or a
 * group's owner or admin at any time. The row stays as a tombstone (its seq is part of the sequence); its
 * text and search terms are erased. Recalling twice is harmless.
 */
export async function recallMessage(ctx: AppContext, caller: AuthIdentity, conversationId: string, seq: number, meta: RequestMeta): Promise<void> {
  const row = await ctx.db.transaction().execute(async (tx) => {
    const m = await memberOf(tx, conversationId, caller.userId, true);
    const msg = await visibleMessage(tx, m, seq, true);
    if (msg.deleted_at !== null) return undefined;
    const moderator = m.conversation.kind === 'group' && m.member.role !== 'member';
    if (msg.sender_id !== caller.userId && !moderator) throw new AppError('FORBIDDEN', "only its sender or the group's owner or an admin may recall a message");
    if (!moderator && Date.now() - msg.created_at.getTime() > ctx.config.MESSAGING_RECALL_WINDOW_SECONDS * 1000) {
      throw new AppError('CONFLICT', `a message can be recalled for ${ctx.config.MESSAGING_RECALL_WINDOW_SECONDS} seconds after it was sent`, { details: { reason: 'recall_window_passed' } });
    }
    const recalled = await mq.recall(tx, msg.id, caller.userId);
    await ctx.outbox.add(tx, { aggregate: 'message', action: 'recalled', type: 'MessageRecalled', entityId: msg.id, data: { conversation_id: msg.conversation_id, message_id: msg.id, seq: Number(msg.seq), sender_id: msg.sender_id, by: caller.userId }, correlationId: meta.correlationId ?? null });
    return recalled;
  });
  if (row) await ctx.realtime.publish(await cq.activeMemberIds(ctx.db, row.conversation_id), { type: 'message_recalled', conversation_id: row.conversation_id, message_id: row.id, seq: Number(row.seq) });
}

