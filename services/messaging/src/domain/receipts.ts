import type { AuthIdentity } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as cq from '../db/queries/conversations.js';
import { memberOf } from './access.js';
import { e2eeContentRefused } from './conversations.js';
import { assertMaySend } from './messages.js';

/**
 * Moves the caller's read (and so delivered) position, or only the delivered one, forward; positions never
 * go back and never pass the conversation's last message. In conversations of at most
 * MESSAGING_RECEIPT_FANOUT_MAX_MEMBERS members the other members get a `receipt` frame, whose read
 * position is left out when the reader turned read receipts off. Returns the positions now stored.
 */
export async function advance(ctx: AppContext, caller: Pick<AuthIdentity, 'userId'>, conversationId: string, to: { read?: number; delivered?: number }): Promise<{ last_read_seq: number; last_delivered_seq: number }> {
  const { conversation, member } = await memberOf(ctx.db, conversationId, caller.userId);
  // e2ee: read and delivery receipts travel inside the ciphertext; the server keeps no positions.
  if (conversation.mode === 'e2ee') throw e2eeContentRefused();
  const row = (await cq.advancePositions(ctx.db, conversation.id, caller.userId, to)) ?? member;
  const after = { last_read_seq: Number(row.last_read_seq), last_delivered_seq: Number(row.last_delivered_seq) };
  const moved = after.last_read_seq !== Number(member.last_read_seq) || after.last_delivered_seq !== Number(member.last_delivered_seq);
  if (moved) {
    const members = (await cq.activeMemberIds(ctx.db, conversation.id)).filter((u) => u !== caller.userId);
    if (members.length + 1 <= ctx.config.MESSAGING_RECEIPT_FANOUT_MAX_MEMBERS) {
      const settings = await ctx.users.settings([caller.userId]);
      const showRead = settings.get(caller.userId)?.readReceipts !== false;
      await ctx.realtime.publish(members, {
        type: 'receipt',
        conversation_id: conversation.id,
        user_id: caller.userId,
        delivered_seq: after.last_delivered_seq,
        ...(showRead ? { read_seq: after.last_read_seq } : {}),
      });
    }
    // The reader's other devices learn that the conversation was read (unread counts), whatever the setting.
    if (after.last_read_seq !== Number(member.last_read_seq)) {
      await ctx.realtime.publish([caller.userId], { type: 'read', conversation_id: conversation.id, read_seq: after.last_read_seq });
    }
  }
  return after;
}

/** Tells the other members the caller is typing (nothing is stored). */
export async function typing(ctx: AppContext, userId: string, conversationId: string): Promise<void> {
  const { conversation, member } = await memberOf(ctx.db, conversationId, userId);
  // e2ee: typing indicators travel inside the ciphertext too.
  if (conversation.mode === 'e2ee') throw e2eeContentRefused();
  // A block closes a direct conversation: typing is writing to it.
  await assertMaySend(ctx, { conversation, member }, userId);
  const others = (await cq.activeMemberIds(ctx.db, conversation.id)).filter((u) => u !== userId);
  await ctx.realtime.publish(others, { type: 'typing', conversation_id: conversation.id, user_id: userId });
}

/** Acks written per statement. */
const ACK_CHUNK = 5_000;

/**
 * Delivery acks from WebSocket clients, coalesced: the highest seq per (conversation, user) is kept and
 * written in one statement per flush, so a busy group costs one UPDATE a second, not one per message and
 * member. Receipt frames follow for conversations small enough to push them.
 */
export class DeliveryAcks {
  private pending = new Map<string, { conversationId: string; userId: string; seq: number }>();

  constructor(private readonly ctx: AppContext) {}

  add(userId: string, conversationId: string, seq: number): void {
    const key = `${conversationId}/${userId}`;
    const cur = this.pending.get(key);
    if (!cur || cur.seq < seq) this.pending.set(key, { conversationId: conversationId.toLowerCase(), userId, seq });
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const entries = [...this.pending.values()];
    this.pending = new Map();
    // In chunks: one statement carries at most 65 535 bind parameters (three per entry), and a failed
    // statement would lose every ack of the flush.
    const moved: Awaited<ReturnType<typeof cq.advanceDeliveredMany>> = [];
    for (let i = 0; i < entries.length; i += ACK_CHUNK) moved.push(...(await cq.advanceDeliveredMany(this.ctx.db, entries.slice(i, i + ACK_CHUNK))));
    if (moved.length === 0) return;
    const counts = await cq.memberCounts(this.ctx.db, [...new Set(moved.map((m) => m.conversation_id))]);
    const members = new Map<string, string[]>();
    for (const m of moved) {
      if ((counts.get(m.conversation_id) ?? Infinity) > this.ctx.config.MESSAGING_RECEIPT_FANOUT_MAX_MEMBERS) continue;
      if (!members.has(m.conversation_id)) members.set(m.conversation_id, await cq.activeMemberIds(this.ctx.db, m.conversation_id));
      const others = members.get(m.conversation_id)!.filter((u) => u !== m.user_id);
      await this.ctx.realtime.publish(others, { type: 'receipt', conversation_id: m.conversation_id, user_id: m.user_id, delivered_seq: m.last_delivered_seq });
    }
  }
}
