import { sql, type DbOrTx, type Selectable } from '@nova/platform';
import type { SettingsTable, UsersDb, WhoCanMessage } from '../schema.js';

type Q = DbOrTx<UsersDb>;
export type SettingsRow = Selectable<SettingsTable>;

export function findSettings(db: Q, userId: string): Promise<SettingsRow | undefined> {
  return db.selectFrom('settings').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

export function lockSettings(db: Q, userId: string): Promise<SettingsRow | undefined> {
  return db.selectFrom('settings').selectAll().where('user_id', '=', userId).forUpdate().executeTakeFirst();
}

export interface SettingsWrite {
  language?: string;
  who_can_message?: WhoCanMessage;
  notifications?: Record<string, boolean>;
  privacy?: Record<string, boolean>;
}

/**
 * Writes the given settings, creating the row when missing; the preference objects are merged key by key
 * (`||`) in the statement itself. Does not move `updated_at` (see {@link touchSettings}).
 */
export function upsertSettings(db: Q, userId: string, w: SettingsWrite): Promise<SettingsRow> {
  const notifications = JSON.stringify(w.notifications ?? {});
  const privacy = JSON.stringify(w.privacy ?? {});
  return db
    .insertInto('settings')
    .values({
      user_id: userId,
      ...(w.language !== undefined ? { language: w.language } : {}),
      ...(w.who_can_message !== undefined ? { who_can_message: w.who_can_message } : {}),
      notifications,
      privacy,
    })
    .onConflict((oc) =>
      oc.column('user_id').doUpdateSet({
        ...(w.language !== undefined ? { language: w.language } : {}),
        ...(w.who_can_message !== undefined ? { who_can_message: w.who_can_message } : {}),
        notifications: sql`settings.notifications || ${notifications}::jsonb`,
        privacy: sql`settings.privacy || ${privacy}::jsonb`,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function touchSettings(db: Q, userId: string): Promise<Date> {
  const row = await db.updateTable('settings').set({ updated_at: sql`now()` }).where('user_id', '=', userId).returning('updated_at').executeTakeFirstOrThrow();
  return row.updated_at;
}

/** Stored settings rows of the given users (users without a row have the defaults). */
export function findSettingsOf(db: Q, userIds: readonly string[]): Promise<SettingsRow[]> {
  if (userIds.length === 0) return Promise.resolve([]);
  return db.selectFrom('settings').selectAll().where('user_id', 'in', [...userIds]).execute();
}
