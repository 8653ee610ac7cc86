import { sql, type DbOrTx } from '@nova/platform';
import type { MessagingDb } from '../schema.js';

type Q = DbOrTx<MessagingDb>;

/** The user's reaction to a message (one per member), locked. */
export async function reactionOf(db: Q, messageId: string, userId: string): Promise<string | undefined> {
  const row = await db.selectFrom('reactions').select('emoji').where('message_id', '=', messageId).where('user_id', '=', userId).forUpdate().executeTakeFirst();
  return row?.emoji;
}

/** Sets the user's one reaction to a message (adds it, or changes the emoji). */
export async function setReaction(db: Q, messageId: string, userId: string, emoji: string): Promise<void> {
  await db
    .insertInto('reactions')
    .values({ message_id: messageId, user_id: userId, emoji })
    .onConflict((oc) => oc.columns(['message_id', 'user_id']).doUpdateSet({ emoji, created_at: sql`clock_timestamp()` }))
    .execute();
}

export async function removeReaction(db: Q, messageId: string, userId: string, emoji: string): Promise<boolean> {
  const res = await db.deleteFrom('reactions').where('message_id', '=', messageId).where('user_id', '=', userId).where('emoji', '=', emoji).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/** Reactions of each message: emoji → user ids (oldest first). */
export async function reactionsOf(db: Q, messageIds: readonly string[]): Promise<Map<string, Map<string, string[]>>> {
  const out = new Map<string, Map<string, string[]>>();
  if (messageIds.length === 0) return out;
  const rows = await db.selectFrom('reactions').select(['message_id', 'emoji', 'user_id']).where('message_id', 'in', [...messageIds]).orderBy('created_at').orderBy('user_id').execute();
  for (const r of rows) {
    const byEmoji = out.get(r.message_id) ?? new Map<string, string[]>();
    byEmoji.set(r.emoji, [...(byEmoji.get(r.emoji) ?? []), r.user_id]);
    out.set(r.message_id, byEmoji);
  }
  return out;
}
