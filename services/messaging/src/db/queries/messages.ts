import { sql, type DbOrTx, type Insertable, type Selectable } from '@nova/platform';
import type { MessagesTable, MessagingDb } from '../schema.js';

type Q = DbOrTx<MessagingDb>;
export type MessageRow = Selectable<MessagesTable>;

export function insertMessage(db: Q, row: Insertable<MessagesTable>): Promise<MessageRow | undefined> {
  return db
    .insertInto('messages')
    .values(row)
    .onConflict((oc) => oc.columns(['conversation_id', 'sender_id', 'client_id']).where('client_id', 'is not', null).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export function findByClientId(db: Q, conversationId: string, senderId: string, clientId: string): Promise<MessageRow | undefined> {
  return db.selectFrom('messages').selectAll().where('conversation_id', '=', conversationId).where('sender_id', '=', senderId).where('client_id', '=', clientId).executeTakeFirst();
}

export function findBySeq(db: Q, conversationId: string, seq: number, lock = false): Promise<MessageRow | undefined> {
  let q = db.selectFrom('messages').selectAll().where('conversation_id', '=', conversationId).where('seq', '=', String(seq));
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

export function findByIds(db: Q, ids: readonly string[]): Promise<MessageRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db.selectFrom('messages').selectAll().where('id', 'in', [...ids]).execute();
}

/** Messages with seq in (from, to], oldest first: catch-up after a known position. */
export function pageAfter(db: Q, conversationId: string, afterSeq: number, limit: number): Promise<MessageRow[]> {
  return db.selectFrom('messages').selectAll().where('conversation_id', '=', conversationId).where('seq', '>', String(afterSeq)).orderBy('seq', 'asc').limit(limit).execute();
}

/** Messages with seq above `floor` and below `before`, newest first: scrolling back through history. */
export function pageBefore(db: Q, conversationId: string, floor: number, before: number | undefined, limit: number): Promise<MessageRow[]> {
  let q = db.selectFrom('messages').selectAll().where('conversation_id', '=', conversationId).where('seq', '>', String(floor));
  if (before !== undefined) q = q.where('seq', '<', String(before));
  return q.orderBy('seq', 'desc').limit(limit).execute();
}

export function updateBody(db: Q, id: string, body: { body_sealed: string; body_key_id: string; search_terms: string[] }, editedAt: boolean): Promise<MessageRow> {
  return db
    .updateTable('messages')
    .set({ ...body, ...(editedAt ? { edited_at: sql`clock_timestamp()` } : {}) })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Recall: the row stays (its seq is part of the sequence), its content goes. */
export function recall(db: Q, id: string, by: string): Promise<MessageRow> {
  return db
    .updateTable('messages')
    .set({ body_sealed: null, body_key_id: null, search_terms: [], deleted_at: sql`clock_timestamp()`, deleted_by: by })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function hasSent(db: Q, conversationId: string, senderId: string): Promise<boolean> {
  const row = await db.selectFrom('messages').select('id').where('conversation_id', '=', conversationId).where('sender_id', '=', senderId).limit(1).executeTakeFirst();
  return row !== undefined;
}

/**
 * Live messages the user may see (active memberships, after each one's history floor), optionally of one
 * conversation, whose index holds every term of one of `termSets` (one set per key that may have sealed a
 * row), newest first, before `before`.
 */
export function search(db: Q, userId: string, conversationId: string | undefined, termSets: readonly { keyId: string; terms: string[] }[], limit: number, before?: { at: string; id: string }): Promise<(MessageRow & { position_at: string })[]> {
  if (termSets.length === 0) return Promise.resolve([]);
  const match = sql.join(termSets.map((t) => sql`(m.body_key_id = ${t.keyId} AND m.search_terms @> ${t.terms}::text[])`), sql` OR `);
  let q = db
    .selectFrom('messages as m')
    .innerJoin('members as mm', (j) => j.onRef('mm.conversation_id', '=', 'm.conversation_id').on('mm.user_id', '=', userId).on('mm.left_at', 'is', null))
    .selectAll('m')
    .select(sql<string>`to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('position_at'))
    .where('m.deleted_at', 'is', null)
    .whereRef('m.seq', '>', 'mm.visible_from_seq')
    .where(sql<boolean>`(${match})`)
    .where(before ? sql<boolean>`(m.created_at, m.id) < (${before.at}::timestamptz, ${before.id}::uuid)` : sql<boolean>`true`);
  if (conversationId !== undefined) q = q.where('m.conversation_id', '=', conversationId);
  return q.orderBy('m.created_at', 'desc').orderBy('m.id', 'desc').limit(limit).execute();
}

/** Up to `limit` live messages sealed with another key than `currentKeyId`, locked for re-sealing. */
export function staleSealed(db: Q, currentKeyId: string, limit: number): Promise<MessageRow[]> {
  return db.selectFrom('messages').selectAll().where('body_key_id', 'is not', null).where('body_key_id', '<>', currentKeyId).orderBy('id').limit(limit).forUpdate().skipLocked().execute();
}

export async function countStale(db: Q, currentKeyId: string): Promise<number> {
  const row = await db.selectFrom('messages').select((eb) => eb.fn.countAll<string>().as('n')).where('body_key_id', 'is not', null).where('body_key_id', '<>', currentKeyId).executeTakeFirstOrThrow();
  return Number(row.n);
}
