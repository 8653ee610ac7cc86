import { sql, type DbOrTx, type Insertable, type Selectable } from '@nova/platform';
import type { ConversationsTable, MembersTable, MemberStatus, MessagingDb } from '../schema.js';

type Q = DbOrTx<MessagingDb>;
export type ConversationRow = Selectable<ConversationsTable>;
export type MemberRow = Selectable<MembersTable>;

/** A live conversation by id. */
export function findConversation(db: Q, id: string): Promise<ConversationRow | undefined> {
  return db.selectFrom('conversations').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
}

/**
 * Locks a live conversation row. Every transaction that locks both a conversation and member rows takes the
 * conversation first (sending does so with nextSeq), so concurrent sends, joins and removals cannot deadlock.
 */
export function lockConversation(db: Q, id: string): Promise<ConversationRow | undefined> {
  return db.selectFrom('conversations').selectAll().where('id', '=', id).where('deleted_at', 'is', null).forUpdate().executeTakeFirst();
}

export function findDirect(db: Q, directKey: string): Promise<ConversationRow | undefined> {
  return db.selectFrom('conversations').selectAll().where('direct_key', '=', directKey).where('deleted_at', 'is', null).executeTakeFirst();
}

/** Inserts a conversation; undefined when a direct conversation of the same pair already exists. */
export function insertConversation(db: Q, row: Insertable<ConversationsTable>): Promise<ConversationRow | undefined> {
  return db
    .insertInto('conversations')
    .values(row)
    .onConflict((oc) => oc.column('direct_key').doNothing())
    .returningAll()
    .executeTakeFirst();
}

/**
 * Takes the next sequence number of a live conversation: the row lock serialises concurrent senders, so
 * numbers are gap-free as long as the caller inserts the message in the same transaction.
 */
export async function nextSeq(db: Q, id: string): Promise<{ seq: number; at: Date } | undefined> {
  const row = await db
    .updateTable('conversations')
    .set({ last_seq: sql`last_seq + 1`, last_message_at: sql`clock_timestamp()`, activity_at: sql`clock_timestamp()`, updated_at: sql`clock_timestamp()` })
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .returning(['last_seq', 'last_message_at'])
    .executeTakeFirst();
  return row ? { seq: Number(row.last_seq), at: row.last_message_at! } : undefined;
}

export async function updateGroup(db: Q, id: string, patch: { name?: string; avatar_media_id?: string | null }): Promise<ConversationRow> {
  return db.updateTable('conversations').set({ ...patch, updated_at: sql`clock_timestamp()` }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
}

/** Sets a member's status (message requests), optionally hiding the history up to `visibleFrom`. */
export async function setStatus(db: Q, conversationId: string, userId: string, status: MemberStatus, visibleFrom?: number): Promise<void> {
  await db
    .updateTable('members')
    .set({ status, ...(visibleFrom !== undefined ? { visible_from_seq: visibleFrom, last_read_seq: visibleFrom, last_delivered_seq: visibleFrom } : {}) })
    .where('conversation_id', '=', conversationId)
    .where('user_id', '=', userId)
    .where('left_at', 'is', null)
    .execute();
}

/** The caller's own mute and archive flags. */
export function setMemberFlags(db: Q, conversationId: string, userId: string, flags: { muted?: boolean; archived?: boolean }): Promise<MemberRow | undefined> {
  return db.updateTable('members').set(flags).where('conversation_id', '=', conversationId).where('user_id', '=', userId).where('left_at', 'is', null).returningAll().executeTakeFirst();
}

/** Active members (status) other than `userId`, with their status and mute flag: who a new message goes to. */
export function recipientsOf(db: Q, conversationId: string, userId: string | null): Promise<Pick<MemberRow, 'user_id' | 'status' | 'muted'>[]> {
  let q = db.selectFrom('members').select(['user_id', 'status', 'muted']).where('conversation_id', '=', conversationId).where('left_at', 'is', null);
  if (userId !== null) q = q.where('user_id', '<>', userId);
  return q.execute();
}

/**
 * Everyone who shares an active conversation of at most `maxMembers` active members with `userId`, at most
 * `limit` of them (presence frames: bounded work per connect, whatever the groups a user is in).
 */
export async function contactsOf(db: Q, userId: string, maxMembers: number, limit: number): Promise<string[]> {
  const { rows } = await sql<{ user_id: string }>`
    SELECT DISTINCT b.user_id
    FROM messaging.members a
    JOIN messaging.conversations c ON c.id = a.conversation_id AND c.deleted_at IS NULL
    JOIN messaging.members b ON b.conversation_id = a.conversation_id AND b.left_at IS NULL AND b.status = 'active' AND b.user_id <> a.user_id
    WHERE a.user_id = ${userId} AND a.left_at IS NULL AND a.status = 'active'
      AND (SELECT count(*) FROM messaging.members n WHERE n.conversation_id = a.conversation_id AND n.left_at IS NULL AND n.status = 'active') <= ${maxMembers}
    LIMIT ${limit}`.execute(db);
  return rows.map((r) => r.user_id);
}

/** The caller's active membership, locked against concurrent removal (FOR SHARE) when `lock` is set. */
export function findMember(db: Q, conversationId: string, userId: string, lock = false): Promise<MemberRow | undefined> {
  let q = db.selectFrom('members').selectAll().where('conversation_id', '=', conversationId).where('user_id', '=', userId).where('left_at', 'is', null);
  if (lock) q = q.forShare();
  return q.executeTakeFirst();
}

export function activeMembers(db: Q, conversationId: string): Promise<MemberRow[]> {
  return db.selectFrom('members').selectAll().where('conversation_id', '=', conversationId).where('left_at', 'is', null).orderBy('joined_at').orderBy('user_id').execute();
}

/** Members who get the conversation's frames: active ones (not pending or deleted message requests). */
export async function activeMemberIds(db: Q, conversationId: string): Promise<string[]> {
  const rows = await db.selectFrom('members').select('user_id').where('conversation_id', '=', conversationId).where('left_at', 'is', null).where('status', '=', 'active').execute();
  return rows.map((r) => r.user_id);
}

/** Adds members, or brings back ones who left (history before their return stays hidden). */
export async function upsertMembers(db: Q, rows: Insertable<MembersTable>[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('members')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['conversation_id', 'user_id']).doUpdateSet((eb) => ({
        role: eb.ref('excluded.role'),
        visible_from_seq: eb.ref('excluded.visible_from_seq'),
        last_read_seq: eb.ref('excluded.last_read_seq'),
        last_delivered_seq: eb.ref('excluded.last_delivered_seq'),
        joined_at: sql`clock_timestamp()`,
        added_by: eb.ref('excluded.added_by'),
        left_at: null,
        left_by: null,
      })),
    )
    .execute();
}

export function leave(db: Q, conversationId: string, userId: string, by: string): Promise<MemberRow | undefined> {
  return db
    .updateTable('members')
    .set({ left_at: sql`clock_timestamp()`, left_by: by })
    .where('conversation_id', '=', conversationId)
    .where('user_id', '=', userId)
    .where('left_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

export async function setRole(db: Q, conversationId: string, userId: string, role: MembersTable['role']): Promise<void> {
  await db.updateTable('members').set({ role }).where('conversation_id', '=', conversationId).where('user_id', '=', userId).execute();
}

/** Moves read and/or delivered positions forward (never back, never past the conversation's last message). */
export function advancePositions(db: Q, conversationId: string, userId: string, to: { read?: number; delivered?: number }): Promise<MemberRow | undefined> {
  const cap = sql<number>`(SELECT last_seq FROM messaging.conversations WHERE id = ${conversationId})`;
  const read = to.read ?? 0;
  // Reading a message implies it was delivered.
  const delivered = Math.max(to.delivered ?? 0, read);
  return db
    .updateTable('members')
    .set({
      last_read_seq: sql`GREATEST(last_read_seq, LEAST(${read}::bigint, ${cap}))`,
      last_delivered_seq: sql`GREATEST(last_delivered_seq, LEAST(${delivered}::bigint, ${cap}))`,
    })
    .where('conversation_id', '=', conversationId)
    .where('user_id', '=', userId)
    .where('left_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/**
 * A user's conversations with their membership, by last activity (newest first), from after `after`:
 * active ones (archived or not, as asked) or pending message requests. Each row carries the latest message
 * the user may see (above their history floor, not deleted for them), if any.
 */
export function inboxPage(db: Q, userId: string, limit: number, opts: { after?: { at: string; id: string } | undefined; archived?: boolean; requests?: boolean }) {
  const { after } = opts;
  let q = db
    .selectFrom('members as m')
    .innerJoin('conversations as c', 'c.id', 'm.conversation_id')
    .leftJoinLateral(
      (eb) =>
        eb
          .selectFrom('messages as lm')
          .select(['lm.id as last_id'])
          .whereRef('lm.conversation_id', '=', 'c.id')
          .whereRef('lm.seq', '>', 'm.visible_from_seq')
          .where(({ not, exists, selectFrom }) => not(exists(selectFrom('hidden_messages as h').select('h.message_id').whereRef('h.message_id', '=', 'lm.id').where('h.user_id', '=', userId))))
          .orderBy('lm.seq', 'desc')
          .limit(1)
          .as('last'),
      (join) => join.onTrue(),
    )
    .selectAll('c')
    .select(['m.role', 'm.last_read_seq', 'm.last_delivered_seq', 'm.visible_from_seq', 'm.status', 'm.muted', 'm.archived', 'last.last_id'])
    .select(sql<string>`to_char(c.activity_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('position_at'))
    .where('m.user_id', '=', userId)
    .where('m.left_at', 'is', null)
    .where('c.deleted_at', 'is', null);
  q = opts.requests ? q.where('m.status', '=', 'request') : q.where('m.status', '=', 'active').where('m.archived', '=', opts.archived ?? false);
  return q
    .where(after ? sql<boolean>`(c.activity_at, c.id) < (${after.at}::timestamptz, ${after.id}::uuid)` : sql<boolean>`true`)
    .orderBy('c.activity_at', 'desc')
    .orderBy('c.id', 'desc')
    .limit(limit)
    .execute();
}

/** Every active membership of a user (account deletion), locked. */
export function membershipsOf(db: Q, userId: string): Promise<MemberRow[]> {
  return db.selectFrom('members').selectAll().where('user_id', '=', userId).where('left_at', 'is', null).forUpdate().execute();
}

/**
 * Moves many members' delivered positions forward at once (coalesced WebSocket acks), capped at each
 * conversation's last message; returns only the rows that moved. Only active members of live standard
 * conversations: a pending message request's recipient cannot tell its sender anything (as over HTTP), and
 * e2ee conversations keep no positions.
 */
export async function advanceDeliveredMany(db: Q, entries: readonly { conversationId: string; userId: string; seq: number }[]): Promise<{ conversation_id: string; user_id: string; last_delivered_seq: number }[]> {
  if (entries.length === 0) return [];
  const values = sql.join(entries.map((e) => sql`(${e.conversationId}::uuid, ${e.userId}::uuid, ${e.seq}::bigint)`));
  const { rows } = await sql<{ conversation_id: string; user_id: string; last_delivered_seq: string }>`
    UPDATE messaging.members AS m SET last_delivered_seq = LEAST(v.seq, c.last_seq)
    FROM (VALUES ${values}) AS v (conversation_id, user_id, seq)
    JOIN messaging.conversations AS c ON c.id = v.conversation_id AND c.deleted_at IS NULL AND c.mode = 'standard'
    WHERE m.conversation_id = v.conversation_id AND m.user_id = v.user_id AND m.left_at IS NULL AND m.status = 'active'
      AND m.last_delivered_seq < LEAST(v.seq, c.last_seq)
    RETURNING m.conversation_id, m.user_id, m.last_delivered_seq`.execute(db);
  return rows.map((r) => ({ ...r, last_delivered_seq: Number(r.last_delivered_seq) }));
}

/** Active member counts of the given conversations. */
export async function memberCounts(db: Q, conversationIds: readonly string[]): Promise<Map<string, number>> {
  if (conversationIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('members')
    .select(['conversation_id', (eb) => eb.fn.countAll<string>().as('n')])
    .where('conversation_id', 'in', [...conversationIds])
    .where('left_at', 'is', null)
    .groupBy('conversation_id')
    .execute();
  return new Map(rows.map((r) => [r.conversation_id, Number(r.n)]));
}
