import { AppError, newId, type AuthIdentity, type DbOrTx, type Tx } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as cq from '../db/queries/conversations.js';
import * as mq from '../db/queries/messages.js';
import { reactionsOf } from '../db/queries/reactions.js';
import type { MessagingDb } from '../db/schema.js';
import { conversationNotFound, memberOf, notAccepting, requestPending, type Membership } from './access.js';
import { e2eeContentRefused, type RequestMeta } from './conversations.js';
import { messageView, type MessageView } from './views.js';

export const MAX_TEXT = 8_000;
export const MAX_CLIENT_ID = 100;
export const MAX_MEDIA = 10;
/** Message text: anything but NUL, which PostgreSQL text cannot hold. */
export const TEXT_PATTERN = '^[^\\u0000]*$';

export interface NewMessage {
  text?: string | undefined;
  media_ids?: string[] | undefined;
  client_message_id?: string | undefined;
  /** The seq of the message this one replies to. */
  reply_to?: number | undefined;
}

function cleanText(text: string): string {
  if (text.trim().length === 0) throw new AppError('VALIDATION_FAILED', 'a message needs text', { details: { field: 'text' } });
  if (text.length > MAX_TEXT) throw new AppError('VALIDATION_FAILED', `a message has at most ${MAX_TEXT} characters`, { details: { field: 'text' } });
  if (text.includes('\u0000')) throw new AppError('VALIDATION_FAILED', 'text must not contain NUL', { details: { field: 'text' } });
  return text;
}

/** Text (≤ MAX_TEXT characters) and/or media ids (≤ MAX_MEDIA): at least one of them. */
function cleanContent(input: NewMessage): { text: string | null; media: string[] } {
  const media = [...new Set((input.media_ids ?? []).map((id) => id.toLowerCase()))];
  if (media.length > MAX_MEDIA) throw new AppError('VALIDATION_FAILED', `a message has at most ${MAX_MEDIA} media`, { details: { field: 'media_ids' } });
  if (input.text === undefined) {
    if (media.length === 0) throw new AppError('VALIDATION_FAILED', 'a message needs text or media_ids', { details: { field: 'text' } });
    return { text: null, media };
  }
  return { text: cleanText(input.text), media };
}

/**
 * In a direct conversation the other user must still be there and no block may stand either way: a block
 * forbids messaging entirely. Their who_can_message setting decided how the conversation started (a
 * message request when it did not admit the sender); it does not close a conversation that exists.
 */
export async function assertMaySend(ctx: AppContext, m: Membership, senderId: string): Promise<void> {
  if (m.conversation.kind !== 'direct') return;
  const other = m.conversation.direct_key!.split(':').find((id) => id !== senderId)!;
  const otherMember = await cq.findMember(ctx.db, m.conversation.id, other);
  if (!otherMember || (await ctx.users.isBlocked(senderId, other))) throw notAccepting();
}

async function hydrate(ctx: AppContext, db: DbOrTx<MessagingDb>, rows: readonly mq.MessageRow[]): Promise<MessageView[]> {
  const replyIds = [...new Set(rows.flatMap((r) => (r.reply_to_id ? [r.reply_to_id] : [])))];
  const senders = [...new Set(rows.flatMap((r) => (r.sender_id ? [r.sender_id] : [])))];
  const [replies, reactions, deleted] = await Promise.all([mq.findByIds(db, replyIds), reactionsOf(db, rows.map((r) => r.id)), mq.deletedAmong(db, senders)]);
  const seqOf = new Map(replies.map((r) => [r.id, Number(r.seq)]));
  return rows.map((r) =>
    messageView(ctx, r, { replyToSeq: r.reply_to_id ? (seqOf.get(r.reply_to_id) ?? null) : null, reactions: reactions.get(r.id) ?? new Map(), senderDeleted: r.sender_id !== null && deleted.has(r.sender_id) }),
  );
}

interface Recipients {
  /** Active members other than the sender: they get the `message` frame. */
  active: string[];
  /** Members with a pending message request: they get a `message_request` frame, not the message. */
  requests: string[];
  muted: string[];
}

/**
 * Who a new message goes to, read in the sending transaction. A direct conversation whose recipient deleted
 * the sender's earlier request becomes a request again, showing only what comes from now on.
 */
async function recipientsFor(tx: Tx<MessagingDb>, convId: string, senderId: string | null, seq: number): Promise<Recipients> {
  const rows = await cq.recipientsOf(tx, convId, senderId);
  const out: Recipients = { active: [], requests: [], muted: [] };
  for (const r of rows) {
    if (r.status === 'declined') {
      await cq.setStatus(tx, convId, r.user_id, 'request', seq - 1);
      out.requests.push(r.user_id);
    } else if (r.status === 'request') out.requests.push(r.user_id);
    else {
      out.active.push(r.user_id);
      if (r.muted) out.muted.push(r.user_id);
    }
  }
  return out;
}

/** Who of the members are online now (best effort: when Redis cannot say, everyone counts as offline, so a push is not missed). */
async function onlineNow(ctx: AppContext, convId: string): Promise<Set<string>> {
  try {
    return await ctx.presence.onlineAmong(await cq.activeMemberIds(ctx.db, convId));
  } catch (err) {
    ctx.logger.warn({ err: { message: (err as Error).message } }, 'presence unavailable: every recipient counts as offline');
    return new Set();
  }
}

function messageCreated(ctx: AppContext, tx: Tx<MessagingDb>, row: mq.MessageRow, kind: string, r: Recipients, online: Set<string>, meta: RequestMeta) {
  return ctx.outbox.add(tx, {
    aggregate: 'message',
    action: 'created',
    type: 'MessageCreated',
    entityId: row.id,
    data: {
      conversation_id: row.conversation_id,
      conversation_kind: kind,
      message_id: row.id,
      seq: Number(row.seq),
      message_kind: row.kind,
      sender_id: row.sender_id,
      system_sender: row.system_sender,
      recipient_ids: r.active,
      // Who notification should push to: members without an open socket, minus those who muted the conversation.
      offline_recipient_ids: r.active.filter((u) => !online.has(u) && !r.muted.includes(u)),
      muted_recipient_ids: r.muted,
      // A message request is not a normal conversation: notification may say "new message request", nothing more.
      request_recipient_ids: r.requests,
      created_at: row.created_at.toISOString(),
    },
    correlationId: meta.correlationId ?? null,
  });
}

async function publishCreated(ctx: AppContext, view: MessageView, to: string[], requests: string[]): Promise<void> {
  await ctx.realtime.publish(to, { type: 'message', conversation_id: view.conversation_id, message: view });
  if (requests.length > 0) await ctx.realtime.publish(requests, { type: 'message_request', conversation_id: view.conversation_id, from: view.sender_id });
}

/**
 * Sends a message: the conversation's next sequence number is taken (row lock: gap-free under concurrent
 * senders), the body sealed, the sender's read position moved to it, and MessageCreated written, all in one
 * transaction. With a client_message_id, a retry returns the first call's message (`created: false`).
 * After the commit the message goes to every active member's sockets; a member with a pending message
 * request gets a `message_request` frame instead.
 */
export async function sendMessage(ctx: AppContext, caller: AuthIdentity, conversationId: string, input: NewMessage, meta: RequestMeta): Promise<{ view: MessageView; created: boolean }> {
  const me = caller.userId;
  const content = cleanContent(input);
  const pre = await memberOf(ctx.db, conversationId, me);
  const convId = pre.conversation.id;
  const clientId = input.client_message_id;
  if (clientId !== undefined) {
    const existing = await mq.findByClientId(ctx.db, convId, me, clientId);
    if (existing) return { view: (await hydrate(ctx, ctx.db, [existing]))[0]!, created: false };
  }
  if (pre.conversation.mode === 'e2ee') throw e2eeContentRefused();
  await assertMaySend(ctx, pre, me);
  const online = await onlineNow(ctx, convId);

  const id = newId();
  const sealed = content.text !== null ? ctx.cipher.seal(id, content.text) : { body_sealed: null, body_key_id: null, search_terms: [] };
  const outcome = await ctx.db
    .transaction()
    .execute(async (tx) => {
      // The conversation row first (lock order), then the membership: a member removed meanwhile cannot send.
      const next = await cq.nextSeq(tx, convId);
      if (!next) throw conversationNotFound();
      const member = await cq.findMember(tx, convId, me, true);
      if (!member || member.status === 'declined') throw conversationNotFound();
      if (member.status === 'request') throw requestPending();
      let replyToId: string | null = null;
      if (input.reply_to !== undefined) {
        const target = await mq.findBySeq(tx, convId, input.reply_to);
        if (!target || Number(target.seq) <= Number(member.visible_from_seq)) throw new AppError('NOT_FOUND', 'reply_to: message not found', { details: { field: 'reply_to' } });
        replyToId = target.id;
      }
      const row = await mq.insertMessage(tx, { id, conversation_id: convId, seq: next.seq, sender_id: me, ...sealed, media_ids: content.media, client_id: clientId ?? null, reply_to_id: replyToId, created_at: next.at });
      // A retry with the same client_message_id raced this one and won: roll back the sequence number we took.
      if (!row) throw new ClientIdTaken();
      await cq.advancePositions(tx, convId, me, { read: next.seq });
      const recipients = await recipientsFor(tx, convId, me, next.seq);
      await messageCreated(ctx, tx, row, pre.conversation.kind, recipients, online, meta);
      return { row, recipients };
    })
    .catch(async (err: unknown) => {
      if (!(err instanceof ClientIdTaken)) throw err;
      return undefined;
    });
  if (!outcome) {
    const existing = await mq.findByClientId(ctx.db, convId, me, clientId!);
    if (!existing) throw new AppError('CONFLICT', 'a request with this client_message_id is still in progress');
    return { view: (await hydrate(ctx, ctx.db, [existing]))[0]!, created: false };
  }
  // A new message has no reactions yet and its reply target is the seq asked for: no reads needed.
  const view = messageView(ctx, outcome.row, { replyToSeq: input.reply_to ?? null });
  ctx.metrics.messagesSent.inc({ kind: pre.conversation.kind });
  await publishCreated(ctx, view, [me, ...outcome.recipients.active], outcome.recipients.requests);
  return { view, created: true };
}

class ClientIdTaken extends Error {}

/**
 * A system message (kind `system`) from another service, identified by its mTLS identity (`service`):
 * no user sender, no membership (the caller is a service on the method's allow list), standard
 * conversations only. Idempotent per (conversation, service, client_message_id).
 */
export async function sendSystemMessage(ctx: AppContext, service: string, conversationId: string, input: { text: string; client_message_id?: string | undefined }, meta: RequestMeta): Promise<{ view: MessageView; created: boolean }> {
  const text = cleanText(input.text);
  const conv = await cq.findConversation(ctx.db, conversationId.toLowerCase());
  if (!conv) throw conversationNotFound();
  if (conv.mode === 'e2ee') throw e2eeContentRefused();
  const clientId = input.client_message_id;
  if (clientId !== undefined) {
    const existing = await mq.findSystemByClientId(ctx.db, conv.id, service, clientId);
    if (existing) return { view: (await hydrate(ctx, ctx.db, [existing]))[0]!, created: false };
  }
  const online = await onlineNow(ctx, conv.id);
  const id = newId();
  const outcome = await ctx.db
    .transaction()
    .execute(async (tx) => {
      const next = await cq.nextSeq(tx, conv.id);
      if (!next) throw conversationNotFound();
      const row = await mq.insertSystemMessage(tx, { id, conversation_id: conv.id, seq: next.seq, system_sender: service, ...ctx.cipher.seal(id, text), client_id: clientId ?? null, created_at: next.at });
      if (!row) throw new ClientIdTaken();
      const recipients = await recipientsFor(tx, conv.id, null, next.seq);
      await messageCreated(ctx, tx, row, conv.kind, recipients, online, meta);
      return { row, recipients };
    })
    .catch((err: unknown) => {
      if (!(err instanceof ClientIdTaken)) throw err;
      return undefined;
    });
  if (!outcome) {
    const existing = await mq.findSystemByClientId(ctx.db, conv.id, service, clientId!);
    if (!existing) throw new AppError('CONFLICT', 'a request with this client_message_id is still in progress');
    return { view: (await hydrate(ctx, ctx.db, [existing]))[0]!, created: false };
  }
  const view = messageView(ctx, outcome.row);
  ctx.metrics.messagesSent.inc({ kind: 'system' });
  await publishCreated(ctx, view, outcome.recipients.active, outcome.recipients.requests);
  return { view, created: true };
}

export interface HistoryQuery {
  limit: number;
  /** Newest first, strictly below this seq (scrolling back); absent with after_seq too: the newest. */
  before_seq?: number | undefined;
  /** Oldest first, strictly above this seq (catching up). */
  after_seq?: number | undefined;
}

/**
 * A page of a conversation's messages the caller may see (not those before they joined a group, nor those
 * they deleted for themselves). Keyset on the sequence number: `before_seq` walks back newest first,
 * `after_seq` forward oldest first. A pending message request can be read (to decide on it).
 */
export async function listMessages(ctx: AppContext, caller: AuthIdentity, conversationId: string, q: HistoryQuery): Promise<{ items: MessageView[]; has_more: boolean }> {
  if (q.before_seq !== undefined && q.after_seq !== undefined) throw new AppError('VALIDATION_FAILED', 'give before_seq or after_seq, not both', { details: { field: 'after_seq' } });
  const { conversation, member } = await memberOf(ctx.db, conversationId, caller.userId, false, { requests: true });
  const floor = Number(member.visible_from_seq);
  const rows =
    q.after_seq !== undefined
      ? await mq.pageAfter(ctx.db, conversation.id, caller.userId, Math.max(q.after_seq, floor), q.limit + 1)
      : await mq.pageBefore(ctx.db, conversation.id, caller.userId, floor, q.before_seq, q.limit + 1);
  return { items: await hydrate(ctx, ctx.db, rows.slice(0, q.limit)), has_more: rows.length > q.limit };
}

/** The messages after `afterSeq` a member may see, oldest first (WebSocket resume). */
export async function catchUp(ctx: AppContext, userId: string, conversationId: string, afterSeq: number, limit: number): Promise<{ conversationId: string; items: MessageView[]; complete: boolean; lastSeq: number }> {
  const { conversation, member } = await memberOf(ctx.db, conversationId, userId);
  const rows = await mq.pageAfter(ctx.db, conversation.id, userId, Math.max(afterSeq, Number(member.visible_from_seq)), limit + 1);
  return { conversationId: conversation.id, items: await hydrate(ctx, ctx.db, rows.slice(0, limit)), complete: rows.length <= limit, lastSeq: Number(conversation.last_seq) };
}

/** A visible message of a conversation the caller is in (not one they deleted for themselves), locked when asked. */
export async function visibleMessage(db: DbOrTx<MessagingDb>, m: Membership, seq: number, lock: boolean, userId?: string): Promise<mq.MessageRow> {
  const row = await mq.findBySeq(db, m.conversation.id, seq, lock);
  if (!row || Number(row.seq) <= Number(m.member.visible_from_seq)) throw new AppError('NOT_FOUND', 'message not found');
  if (userId !== undefined) {
    const hidden = await db.selectFrom('hidden_messages').select('message_id').where('user_id', '=', userId).where('message_id', '=', row.id).executeTakeFirst();
    if (hidden) throw new AppError('NOT_FOUND', 'message not found');
  }
  return row;
}

/**
 * Edits a message's text: its sender only, within MESSAGING_EDIT_WINDOW_SECONDS, not once recalled. The
 * version it replaces is kept (sealed) in message_edits: GET …/messages/:seq/edits.
 */
export async function editMessage(ctx: AppContext, caller: AuthIdentity, conversationId: string, seq: number, text: string, meta: RequestMeta): Promise<MessageView> {
  const clean = cleanText(text);
  const row = await ctx.db.transaction().execute(async (tx) => {
    const m = await memberOf(tx, conversationId, caller.userId, true);
    if (m.conversation.mode === 'e2ee') throw e2eeContentRefused();
    const msg = await visibleMessage(tx, m, seq, true, caller.userId);
    if (msg.sender_id !== caller.userId) throw new AppError('FORBIDDEN', 'only its sender may edit a message');
    if (msg.deleted_at !== null) throw new AppError('CONFLICT', 'a recalled message cannot be edited', { details: { reason: 'recalled' } });
    if (Date.now() - msg.created_at.getTime() > ctx.config.MESSAGING_EDIT_WINDOW_SECONDS * 1000) {
      throw new AppError('CONFLICT', `a message can be edited for ${ctx.config.MESSAGING_EDIT_WINDOW_SECONDS} seconds after it was sent`, { details: { reason: 'edit_window_passed' } });
    }
    const before = msg.body_sealed === null ? null : ctx.cipher.open(msg.id, msg.body_sealed);
    if (before === clean) return msg;
    const editId = newId();
    const kept = before === null ? { body_sealed: null, body_key_id: null } : (({ body_sealed, body_key_id }) => ({ body_sealed, body_key_id }))(ctx.cipher.seal(editId, before));
    await mq.insertEdit(tx, { id: editId, message_id: msg.id, ...kept, media_ids: msg.media_ids, written_at: msg.edited_at ?? msg.created_at });
    const updated = await mq.updateBody(tx, msg.id, ctx.cipher.seal(msg.id, clean), true);
    await ctx.outbox.add(tx, { aggregate: 'message', action: 'edited', type: 'MessageEdited', entityId: msg.id, data: { conversation_id: msg.conversation_id, message_id: msg.id, seq: Number(msg.seq), sender_id: msg.sender_id }, correlationId: meta.correlationId ?? null });
    return updated;
  });
  const view = (await hydrate(ctx, ctx.db, [row]))[0]!;
  await ctx.realtime.publish(await cq.activeMemberIds(ctx.db, row.conversation_id), { type: 'message_edited', conversation_id: row.conversation_id, message: view });
  return view;
}

export interface EditVersion {
  text: string | null;
  media_ids: string[];
  written_at: string;
  replaced_at: string | null;
}

/** A message's versions, oldest first, the current one last (`replaced_at: null`); empty history once recalled. */
export async function messageVersions(ctx: AppContext, caller: AuthIdentity, conversationId: string, seq: number): Promise<EditVersion[]> {
  const m = await memberOf(ctx.db, conversationId, caller.userId, false, { requests: true });
  const msg = await visibleMessage(ctx.db, m, seq, false, caller.userId);
  const edits = await mq.editsOf(ctx.db, msg.id);
  return [
    ...edits.map((e) => ({ text: e.body_sealed === null ? null : ctx.cipher.open(e.id, e.body_sealed), media_ids: e.media_ids, written_at: e.written_at.toISOString(), replaced_at: e.replaced_at.toISOString() })),
    { text: msg.body_sealed === null ? null : ctx.cipher.open(msg.id, msg.body_sealed), media_ids: msg.media_ids, written_at: (msg.edited_at ?? msg.created_at).toISOString(), replaced_at: null },
  ];
}

/**
 * Recalls (deletes for everyone) a message: its sender within MESSAGING_RECALL_WINDOW_SECONDS, or a
 * group's owner or admin at any time. The row stays as a tombstone (its seq is part of the sequence); its
 * text, media, search terms and earlier versions are erased. Recalling twice is harmless.
 */
export async function recallMessage(ctx: AppContext, caller: AuthIdentity, conversationId: string, seq: number, meta: RequestMeta): Promise<void> {
  const row = await ctx.db.transaction().execute(async (tx) => {
    const m = await memberOf(tx, conversationId, caller.userId, true);
    const msg = await visibleMessage(tx, m, seq, true);
    if (msg.deleted_at !== null) return undefined;
    const moderator = m.conversation.kind === 'group' && m.member.role !== 'member';
    if (msg.sender_id !== caller.userId && !moderator) throw new AppError('FORBIDDEN', "only its sender or the group's owner or an admin may recall a message");
    if (!moderator && Date.now() - msg.created_at.getTime() > ctx.config.MESSAGING_RECALL_WINDOW_SECONDS * 1000) {
      throw new AppError('CONFLICT', `a message can be recalled for ${ctx.config.MESSAGING_RECALL_WINDOW_SECONDS} seconds after it was sent; delete it for yourself instead`, { details: { reason: 'recall_window_passed' } });
    }
    const recalled = await mq.recall(tx, msg.id, caller.userId);
    await ctx.outbox.add(tx, { aggregate: 'message', action: 'recalled', type: 'MessageRecalled', entityId: msg.id, data: { conversation_id: msg.conversation_id, message_id: msg.id, seq: Number(msg.seq), sender_id: msg.sender_id, by: caller.userId }, correlationId: meta.correlationId ?? null });
    return recalled;
  });
  if (row) await ctx.realtime.publish(await cq.activeMemberIds(ctx.db, row.conversation_id), { type: 'message_recalled', conversation_id: row.conversation_id, message_id: row.id, seq: Number(row.seq) });
}

/** Delete for me: any message the caller can see, at any time; it disappears from their views (their other devices get `message_hidden`). */
export async function hideMessage(ctx: AppContext, caller: AuthIdentity, conversationId: string, seq: number): Promise<void> {
  const m = await memberOf(ctx.db, conversationId, caller.userId, false, { requests: true });
  const msg = await visibleMessage(ctx.db, m, seq, false);
  if (await mq.hide(ctx.db, caller.userId, msg.id)) {
    await ctx.realtime.publish([caller.userId], { type: 'message_hidden', conversation_id: msg.conversation_id, message_id: msg.id, seq: Number(msg.seq) });
  }
}
