import { sql, type DbOrTx, type Role, type Selectable } from '@nova/platform';
import type { AuthDb, UsersTable } from '../schema.js';

type Q = DbOrTx<AuthDb>;
export type UserRow = Selectable<UsersTable>;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

const live = (db: Q) => db.selectFrom('users').selectAll().where('deleted_at', 'is', null);

export function findById(db: Q, id: string): Promise<UserRow | undefined> {
  return live(db).where('id', '=', id).executeTakeFirst();
}

export function findByIds(db: Q, ids: string[]): Promise<UserRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return live(db).where('id', 'in', ids).execute();
}

export function findByEmail(db: Q, email: string): Promise<UserRow | undefined> {
  return live(db).where('email_normalized', '=', normalizeEmail(email)).executeTakeFirst();
}

/** By email or username, case-insensitively. */
export function findByIdentifier(db: Q, identifier: string): Promise<UserRow | undefined> {
  const value = identifier.trim().toLowerCase();
  return live(db)
    .where((eb) => (value.includes('@') ? eb('email_normalized', '=', value) : eb('username_lower', '=', value)))
    .executeTakeFirst();
}

/** Locks the row for the rest of the transaction (login counters, 2FA steps). */
export function lockById(db: Q, id: string): Promise<UserRow | undefined> {
  return live(db).where('id', '=', id).forUpdate().executeTakeFirst();
}

export interface NewUser {
  id: string;
  email: string | null;
  username: string;
  password_hash: string | null;
  email_verified_at?: Date | null;
}

/** Inserts; returns which identifier was taken when a unique index refuses it. */
export async function insertUser(db: Q, u: NewUser): Promise<{ ok: true } | { ok: false; taken: 'email' | 'username' }> {
  try {
    await db
      .insertInto('users')
      .values({
        id: u.id,
        email: u.email,
        email_normalized: u.email === null ? null : normalizeEmail(u.email),
        email_verified_at: u.email_verified_at ?? null,
        username: u.username,
        username_lower: u.username.toLowerCase(),
        password_hash: u.password_hash,
      })
      .execute();
    return { ok: true };
  } catch (err) {
    const e = err as { code?: string; constraint?: string };
    if (e.code === '23505') return { ok: false, taken: e.constraint === 'users_username_unique' ? 'username' : 'email' };
    throw err;
  }
}

export async function usernameTaken(db: Q, username: string): Promise<boolean> {
  const row = await db.selectFrom('users').select('id').where('username_lower', '=', username.toLowerCase()).where('released_at', 'is', null).executeTakeFirst();
  return row !== undefined;
}

export async function recordFailedLogin(db: Q, id: string, threshold: number, lockSeconds: number): Promise<void> {
  await db
    .updateTable('users')
    .set((eb) => ({
      failed_login_count: sql<number>`CASE WHEN ${eb.ref('failed_login_count')} + 1 >= ${threshold} THEN 0 ELSE ${eb.ref('failed_login_count')} + 1 END`,
      locked_until: sql<Date | null>`CASE WHEN ${eb.ref('failed_login_count')} + 1 >= ${threshold} THEN now() + ${lockSeconds} * interval '1 second' ELSE ${eb.ref('locked_until')} END`,
    }))
    .where('id', '=', id)
    .execute();
}

export async function recordSuccessfulLogin(db: Q, id: string): Promise<void> {
  await db.updateTable('users').set({ failed_login_count: 0, locked_until: null }).where('id', '=', id).execute();
}

export async function setPassword(db: Q, id: string, hash: string): Promise<void> {
  await db.updateTable('users').set({ password_hash: hash, updated_at: new Date() }).where('id', '=', id).execute();
}

export async function setRole(db: Q, id: string, role: Role): Promise<void> {
  await db.updateTable('users').set({ role, updated_at: new Date() }).where('id', '=', id).execute();
}

export async function markEmailVerified(db: Q, id: string): Promise<void> {
  await db.updateTable('users').set({ email_verified_at: new Date(), updated_at: new Date() }).where('id', '=', id).execute();
}

export async function softDelete(db: Q, id: string, by: string): Promise<void> {
  await db.updateTable('users').set({ deleted_at: new Date(), deleted_by: by, updated_at: new Date() }).where('id', '=', id).execute();
}

/** Frees the email and username of accounts deleted longer than `days` ago. Returns how many. */
export async function releaseDeleted(db: Q, days: number): Promise<number> {
  const res = await db
    .updateTable('users')
    .set({ released_at: new Date() })
    .where('deleted_at', '<', sql<Date>`now() - ${days} * interval '1 day'`)
    .where('released_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}
