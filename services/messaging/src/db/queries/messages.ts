import { sql, type DbOrTx, type Insertable, type Selectable } from '@nova/platform';
import type { MessageEditsTable, MessagesTable, MessagingDb } from '../schema.js';

type Q = DbOrTx<MessagingDb>;
/** A message row without its generated search vector (never read back). */
export type MessageRow = Omit<Selectable<MessagesTable>, 'search_vector'>;
export type EditRow = Selectable<MessageEditsTable>;

const COLUMNS = ['id', 'conversation_id', 'seq', 'kind', 'sender_id', 'system_sender', 'media_ids', 'body_sealed', 'body_key_id', 'search_terms', 'client_id', 'reply_to_id', 'created_at', 'edited_at', 'deleted_at', 'deleted_by'] as const;
const MCOLUMNS = COLUMNS.map((c) => `m.${c}` as const);

export function insertMessage(db: Q, row: Insertable<MessagesTable>): Promise<MessageRow | undefined> {
  return db
    .insertInto('messages')
    .values(row)
    .onConflict((oc) => oc.columns(['conversation_id', 'sender_id', 'client_id']).where('client_id', 'is not', null).doNothing())
    .returning(COLUMNS)
    .executeTakeFirst();
}

/** A system message (kind `system`); undefined when its client id was already used by the same service. */
export function insertSystemMessage(db: Q, row: Insertable<MessagesTable>): Promise<MessageRow | undefined> {
  return db
    .insertInto('messages')
    .values({ ...row, kind: 'system', sender_id: null })
    .onConflict((oc) => oc.columns(['conversation_id', 'system_sender', 'client_id']).where(sql<boolean>`kind = 'system' AND client_id IS NOT NULL`).doNothing())
    .returning(COLUMNS)
    .executeTakeFirst();
}

export function findSystemByClientId(db: Q, conversationId: string, service: string, clientId: string): Promise<MessageRow | undefined> {
  return db.selectFrom('messages').select(COLUMNS).where('conversation_id', '=', conversationId).where('kind', '=', 'system').where('system_sender', '=', service).where('client_id', '=', clientId).executeTakeFirst();
}

export function findByClientId(db: Q, conversationId: string, senderId: string, clientId: string): Promise<MessageRow | undefined> {
  return db.selectFrom('messages').select(COLUMNS).where('conversation_id', '=', conversationId).where('sender_id', '=', senderId).where('client_id', '=', clientId).executeTakeFirst();
}

export function findBySeq(db: Q, conversationId: string, seq: number, lock = false): Promise<MessageRow | undefined> {
  let q = db.selectFrom('messages').select(COLUMNS).where('conversation_id', '=', conversationId).where('seq', '=', String(seq));
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

export function findByIds(db: Q, ids: readonly string[]): Promise<MessageRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db.selectFrom('messages').select(COLUMNS).where('id', 'in', [...ids]).execute();
}

const notHiddenFor = (userId: string) => sql<boolean>`NOT EXISTS (SELECT 1 FROM messaging.hidden_messages h WHERE h.message_id = messages.id AND h.user_id = ${userId})`;

/** Messages with seq above `afterSeq`, oldest first, without those `userId` deleted for themselves: catch-up after a known position. */
export function pageAfter(db: Q, conversationId: string, userId: string, afterSeq: number, limit: number): Promise<MessageRow[]> {
  return db.selectFrom('messages').select(COLUMNS).where('conversation_id', '=', conversationId).where('seq', '>', String(afterSeq)).where(notHiddenFor(userId)).orderBy('seq', 'asc').limit(limit).execute();
}

/** Messages with seq above `floor` and below `before`, newest first, without those `userId` deleted for themselves. */
export function pageBefore(db: Q, conversationId: string, userId: string, floor: number, before: number | undefined, limit: number): Promise<MessageRow[]> {
  let q = db.selectFrom('messages').select(COLUMNS).where('conversation_id', '=', conversationId).where('seq', '>', String(floor)).where(notHiddenFor(userId));
  if (before !== undefined) q = q.where('seq', '<', String(before));
  return q.orderBy('seq', 'desc').limit(limit).execute();
}

/** Delete-for-me: the message disappears from the user's views only. */
export async function hide(db: Q, userId: string, messageId: string): Promise<boolean> {
  const row = await db.insertInto('hidden_messages').values({ user_id: userId, message_id: messageId }).onConflict((oc) => oc.doNothing()).returning('message_id').executeTakeFirst();
  return row !== undefined;
}

/** Keeps the version an edit replaces. */
export async function insertEdit(db: Q, row: Omit<EditRow, 'replaced_at'>): Promise<void> {
  await db.insertInto('message_edits').values(row).execute();
}

/** Earlier versions of a message, oldest first. */
export function editsOf(db: Q, messageId: string): Promise<EditRow[]> {
  return db.selectFrom('message_edits').selectAll().where('message_id', '=', messageId).orderBy('replaced_at').orderBy('id').execute();
}

/** Which of `userIds` belong to deleted accounts. */
export async function deletedAmong(db: Q, userIds: readonly string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await db.selectFrom('deleted_accounts').select('user_id').where('user_id', 'in', [...userIds]).execute();
  return new Set(rows.map((r) => r.user_id));
}

export async function markAccountDeleted(db: Q, userId: string): Promise<void> {
  await db.insertInto('deleted_accounts').values({ user_id: userId }).onConflict((oc) => oc.doNothing()).execute();
}

export function updateBody(db: Q, id: string, body: { body_sealed: string | null; body_key_id: string | null; search_terms: string[]; media_ids?: string[] }, editedAt: boolean): Promise<MessageRow> {
  return db
    .updateTable('messages')
    .set({ ...body, ...(editedAt ? { edited_at: sql`clock_timestamp()` } : {}) })
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

/** Recall: the row stays (its seq is part of the sequence), its content goes, earlier versions included. */
export async function recall(db: Q, id: string, by: string): Promise<MessageRow> {
  await db.deleteFrom('message_edits').where('message_id', '=', id).execute();
  return db
    .updateTable('messages')
    .set({ body_sealed: null, body_key_id: null, search_terms: [], media_ids: [], deleted_at: sql`clock_timestamp()`, deleted_by: by })
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

/**
 * PostgreSQL full text over the blind index: live messages the user may see (active memberships, after
 * each one's history floor, not deleted for them, standard mode), optionally of one conversation, whose
 * `search_vector` matches the tsquery of every term of one of `termSets` (one set per key that may have
 * sealed a row: `body_key_id = key AND search_vector @@ 'h1' & 'h2'`), newest first, before `before`.
 */
export function search(db: Q, userId: string, conversationId: string | undefined, termSets: readonly { keyId: string; terms: string[] }[], limit: number, before?: { at: string; id: string }): Promise<(MessageRow & { position_at: string })[]> {
  if (termSets.length === 0) return Promise.resolve([]);
  // Hashes are base64url: quoted tsquery lexemes taken verbatim (no parser, no stemming).
  const match = sql.join(termSets.map((t) => sql`(m.body_key_id = ${t.keyId} AND m.search_vector @@ ${t.terms.map((h) => `'${h}'`).join(' & ')}::tsquery)`), sql` OR `);
  let q = db
    .selectFrom('messages as m')
    .innerJoin('members as mm', (j) => j.onRef('mm.conversation_id', '=', 'm.conversation_id').on('mm.user_id', '=', userId).on('mm.left_at', 'is', null).on('mm.status', '=', 'active'))
    .innerJoin('conversations as c', (j) => j.onRef('c.id', '=', 'm.conversation_id').on('c.mode', '=', 'standard').on('c.deleted_at', 'is', null))
    .select(MCOLUMNS)
    .select(sql<string>`to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('position_at'))
    .where('m.deleted_at', 'is', null)
    .whereRef('m.seq', '>', 'mm.visible_from_seq')
    .where(sql<boolean>`NOT EXISTS (SELECT 1 FROM messaging.hidden_messages h WHERE h.message_id = m.id AND h.user_id = ${userId})`)
    .where(sql<boolean>`(${match})`)
    .where(before ? sql<boolean>`(m.created_at, m.id) < (${before.at}::timestamptz, ${before.id}::uuid)` : sql<boolean>`true`);
  if (conversationId !== undefined) q = q.where('m.conversation_id', '=', conversationId);
  return q.orderBy('m.created_at', 'desc').orderBy('m.id', 'desc').limit(limit).execute();
}

/** Up to `limit` live messages sealed with another key than `currentKeyId`, locked for re-sealing. */
export function staleSealed(db: Q, currentKeyId: string, limit: number): Promise<MessageRow[]> {
  return db.selectFrom('messages').select(COLUMNS).where('body_key_id', 'is not', null).where('body_key_id', '<>', currentKeyId).orderBy('id').limit(limit).forUpdate().skipLocked().execute();
}

/** The same for kept versions of edited messages. */
export function staleEdits(db: Q, currentKeyId: string, limit: number): Promise<EditRow[]> {
  return db.selectFrom('message_edits').selectAll().where('body_key_id', 'is not', null).where('body_key_id', '<>', currentKeyId).orderBy('id').limit(limit).forUpdate().skipLocked().execute();
}

export async function resealEdit(db: Q, id: string, body: { body_sealed: string; body_key_id: string }): Promise<void> {
  await db.updateTable('message_edits').set(body).where('id', '=', id).execute();
}

export async function countStale(db: Q, currentKeyId: string): Promise<number> {
  const row = await db.selectFrom('messages').select((eb) => eb.fn.countAll<string>().as('n')).where('body_key_id', 'is not', null).where('body_key_id', '<>', currentKeyId).executeTakeFirstOrThrow();
  const edits = await db.selectFrom('message_edits').select((eb) => eb.fn.countAll<string>().as('n')).where('body_key_id', 'is not', null).where('body_key_id', '<>', currentKeyId).executeTakeFirstOrThrow();
  return Number(row.n) + Number(edits.n);
}
