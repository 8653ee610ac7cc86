import { sql, type DbOrTx, type Selectable } from '@nova/platform';
import type { ProfilesTable, UsersDb } from '../schema.js';

type Q = DbOrTx<UsersDb>;
export type ProfileRow = Selectable<ProfilesTable>;

const live = (db: Q) => db.selectFrom('profiles').selectAll().where('deleted_at', 'is', null);

export function findProfile(db: Q, id: string): Promise<ProfileRow | undefined> {
  return live(db).where('id', '=', id).executeTakeFirst();
}

export function findProfiles(db: Q, ids: readonly string[]): Promise<ProfileRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return live(db).where('id', 'in', [...ids]).execute();
}

export function findByUsername(db: Q, username: string): Promise<ProfileRow | undefined> {
  return live(db).where('username_lower', '=', username.toLowerCase()).executeTakeFirst();
}

/** Live profiles by lower-cased username. */
export function findByUsernames(db: Q, usernamesLower: readonly string[]): Promise<ProfileRow[]> {
  if (usernamesLower.length === 0) return Promise.resolve([]);
  return live(db).where('username_lower', 'in', [...usernamesLower]).execute();
}

/** Creates the profile of a new account; a second call for the same account does nothing. */
export async function createProfile(db: Q, p: { id: string; username: string }): Promise<boolean> {
  const res = await db
    .insertInto('profiles')
    .values({ id: p.id, username: p.username, username_lower: p.username.toLowerCase() })
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  if ((res.numInsertedOrUpdatedRows ?? 0n) === 0n) return false;
  await db.insertInto('settings').values({ user_id: p.id }).onConflict((oc) => oc.column('user_id').doNothing()).execute();
  return true;
}

export async function softDeleteProfile(db: Q, id: string, by: string): Promise<boolean> {
  const res = await db.updateTable('profiles').set({ deleted_at: new Date(), deleted_by: by, updated_at: new Date() }).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Adds `delta` to a counter of each profile; counters never go below zero. */
export async function bumpCounter(db: Q, ids: readonly string[], column: 'follower_count' | 'following_count' | 'post_count', delta: number): Promise<void> {
  if (ids.length === 0 || delta === 0) return;
  await db
    .updateTable('profiles')
    .set({ [column]: sql`GREATEST(${sql.ref(column)} + ${delta}, 0)` })
    .where('id', 'in', [...ids])
    .execute();
}

/** The profile row whatever its state (deleted too): tells "never existed" from "deleted". */
export function findProfileAnyState(db: Q, id: string): Promise<Pick<ProfileRow, 'id' | 'deleted_at'> | undefined> {
  return db.selectFrom('profiles').select(['id', 'deleted_at']).where('id', '=', id).executeTakeFirst();
}

/**
 * Locks live profiles (FOR NO KEY UPDATE, in id order like every other multi-profile lock, so transactions
 * never wait on each other in a cycle) and returns them.
 */
export function lockProfiles(db: Q, ids: readonly string[]): Promise<ProfileRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return live(db).where('id', 'in', [...ids]).orderBy('id').forNoKeyUpdate().execute();
}

export type ProfileChanges = Partial<Pick<ProfileRow, 'display_name' | 'bio' | 'avatar_media_id' | 'cover_media_id' | 'location' | 'website' | 'is_private'>>;

export function updateProfile(db: Q, id: string, changes: ProfileChanges): Promise<ProfileRow> {
  return db.updateTable('profiles').set({ ...changes, updated_at: sql`now()` }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
}
