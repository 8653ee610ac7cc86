import { AppError, type AuthIdentity } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as cq from '../db/queries/conversations.js';
import * as rq from '../db/queries/reactions.js';
import { memberOf } from './access.js';
import { e2eeContentRefused } from './conversations.js';
import { visibleMessage } from './messages.js';

const EMOJI = /^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\u200d|\ufe0f|\u20e3)+$/u;
const PICTOGRAPH = /[\p{Extended_Pictographic}\p{Regional_Indicator}]/u;

/** One emoji (a sequence such as 👍🏽 or 🏳️‍🌈 counts as one), not text. */
export function assertEmoji(emoji: string): string {
  const e = emoji.normalize('NFC');
  if (e.length > 32 || !EMOJI.test(e) || !PICTOGRAPH.test(e) || [...new Intl.Segmenter().segment(e)].length !== 1) {
    throw new AppError('VALIDATION_FAILED', 'a reaction is a single emoji', { details: { field: 'emoji' } });
  }
  return e;
}

/**
 * One emoji per member per message: `add` sets the caller's reaction to a visible, not recalled message
 * (adds it, or changes the one they had); otherwise their reaction is removed if it is `emojiRaw`.
 * Nothing happens (and nothing is pushed) when the reaction was already so.
 */
export async function react(ctx: AppContext, caller: AuthIdentity, conversationId: string, seq: number, emojiRaw: string, add: boolean): Promise<void> {
  const given = assertEmoji(emojiRaw);
  const result = await ctx.db.transaction().execute(async (tx) => {
    const m = await memberOf(tx, conversationId, caller.userId, true);
    if (m.conversation.mode === 'e2ee') throw e2eeContentRefused();
    const msg = await visibleMessage(tx, m, seq, false, caller.userId);
    if (msg.deleted_at !== null) throw new AppError('CONFLICT', 'a recalled message cannot be reacted to', { details: { reason: 'recalled' } });
    const previous = (await rq.reactionOf(tx, msg.id, caller.userId)) ?? null;
    if (!add && previous !== given) return undefined;
    const emoji = add ? given : null;
    if (previous === emoji) return undefined;
    if (emoji === null) await rq.removeReaction(tx, msg.id, caller.userId, previous!);
    else await rq.setReaction(tx, msg.id, caller.userId, emoji);
    return { msg, previous, emoji };
  });
  if (result) {
    const { msg, previous, emoji } = result;
    await ctx.realtime.publish(await cq.activeMemberIds(ctx.db, msg.conversation_id), {
      type: 'reaction',
      conversation_id: msg.conversation_id,
      message_id: msg.id,
      seq: Number(msg.seq),
      user_id: caller.userId,
      emoji,
      previous_emoji: previous,
    });
  }
}
