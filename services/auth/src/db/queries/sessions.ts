import { type DbOrTx, type Selectable } from '@nova/platform';
import type { AuthDb, SessionsTable } from '../schema.js';

type Q = DbOrTx<AuthDb>;
export type SessionRow = Selectable<SessionsTable>;

export async function insertSession(db: Q, s: { id: string; user_id: string; device: string | null; user_agent: string | null; ip: string | null; expires_at: Date }): Promise<void> {
  await db.insertInto('sessions').values(s).execute();
}

export function findSession(db: Q, id: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
}

export function lockSession(db: Q, id: string): Promise<SessionRow | undefined> {
  return db.selectFrom('sessions').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export function activeSessions(db: Q, userId: string): Promise<SessionRow[]> {
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', new Date())
    .orderBy('created_at', 'desc')
    .execute();
}

export async function touchSession(db: Q, id: string, ip: string | null): Promise<void> {
  await db.updateTable('sessions').set({ last_seen_at: new Date(), ...(ip ? { ip } : {}) }).where('id', '=', id).execute();
}

/** Revokes the given live sessions; returns the ids actually revoked. */
export async function revokeSessions(db: Q, ids: string[], reason: string): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .updateTable('sessions')
    .set({ revoked_at: new Date(), revoked_reason: reason })
    .where('id', 'in', ids)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

export async function insertRefreshToken(db: Q, t: { id: string; session_id: string; parent_id: string | null; expires_at: Date }): Promise<void> {
  await db.insertInto('refresh_tokens').values(t).execute();
}

export function lockRefreshToken(db: Q, id: string) {
  return db.selectFrom('refresh_tokens').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function markRotated(db: Q, id: string): Promise<void> {
  await db.updateTable('refresh_tokens').set({ rotated_at: new Date() }).where('id', '=', id).execute();
}
