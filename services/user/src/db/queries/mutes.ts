import { sql, type DbOrTx, type Selectable } from '@nova/platform';
import type { MutesTable, UsersDb } from '../schema.js';

type Q = DbOrTx<UsersDb>;
export type MuteRow = Selectable<MutesTable>;

/** Creates the mute or replaces its expiry (a re-mute starts afresh). */
export function upsertMute(db: Q, muterId: string, mutedId: string, expiresAt: Date | null): Promise<MuteRow> {
  return db
    .insertInto('mutes')
    .values({ muter_id: muterId, muted_id: mutedId, expires_at: expiresAt })
    .onConflict((oc) => oc.columns(['muter_id', 'muted_id']).doUpdateSet({ expires_at: expiresAt, created_at: sql`clock_timestamp()` }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Deletes the mute; returns the row it deleted, expired or not. */
export function deleteMute(db: Q, muterId: string, mutedId: string): Promise<MuteRow | undefined> {
  return db.deleteFrom('mutes').where('muter_id', '=', muterId).where('muted_id', '=', mutedId).returningAll().executeTakeFirst();
}

/** Whether `muterId` mutes `mutedId` now: a mute past its expiry mutes no more. */
export async function isMuting(db: Q, muterId: string, mutedId: string): Promise<boolean> {
  const row = await db
    .selectFrom('mutes')
    .select('muted_id')
    .where('muter_id', '=', muterId)
    .where('muted_id', '=', mutedId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
    .executeTakeFirst();
  return row !== undefined;
}
