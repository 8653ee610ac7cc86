import type { DbOrTx, Selectable } from '@nova/platform';
import type { AuthDb, OAuthIdentitiesTable } from '../db/schema.js';
import { normalizeEmail, type UserRow } from '../db/queries/users.js';
import type { OAuthProviderName } from './types.js';

type Q = DbOrTx<AuthDb>;
export type IdentityRow = Selectable<OAuthIdentitiesTable>;

const live = (db: Q) => db.selectFrom('oauth_identities').selectAll().where('deleted_at', 'is', null);

/** The live identity with one of these subjects at a provider, locked for the transaction. */
export function lockIdentityBySubject(db: Q, provider: OAuthProviderName, subjects: string[]): Promise<IdentityRow | undefined> {
  return live(db).where('provider', '=', provider).where('provider_subject', 'in', subjects).orderBy('created_at').forUpdate().executeTakeFirst();
}

/** Whether these subjects were linked to an account that is deleted and still within its retention. */
export async function deletedAccountHolds(db: Q, provider: OAuthProviderName, subjects: string[]): Promise<boolean> {
  const row = await db
    .selectFrom('oauth_identities as i')
    .innerJoin('users as u', 'u.id', 'i.user_id')
    .select('i.id')
    .where('i.provider', '=', provider)
    .where('i.provider_subject', 'in', subjects)
    .where('u.deleted_at', 'is not', null)
    .where('u.released_at', 'is', null)
    .executeTakeFirst();
  return row !== undefined;
}

export function findUserIdentity(db: Q, userId: string, provider: OAuthProviderName): Promise<IdentityRow | undefined> {
  return live(db).where('user_id', '=', userId).where('provider', '=', provider).executeTakeFirst();
}

export function listUserIdentities(db: Q, userId: string): Promise<IdentityRow[]> {
  return live(db).where('user_id', '=', userId).orderBy('created_at').execute();
}

export interface IdentityValues {
  provider_subject: string;
  email: string | null;
  email_verified: boolean;
  access_token_enc: string | null;
  refresh_token_enc: string | null;
}

export async function insertIdentity(db: Q, row: IdentityValues & { id: string; provider: OAuthProviderName; user_id: string }): Promise<void> {
  await db.insertInto('oauth_identities').values(row).execute();
}

export async function updateIdentity(db: Q, id: string, values: IdentityValues): Promise<void> {
  await db.updateTable('oauth_identities').set({ ...values, updated_at: new Date() }).where('id', '=', id).execute();
}

export async function softDeleteIdentity(db: Q, id: string, by: string): Promise<void> {
  await db
    .updateTable('oauth_identities')
    // The provider's tokens are useless once unlinked: drop them rather than keep secrets around.
    .set({ deleted_at: new Date(), deleted_by: by, access_token_enc: null, refresh_token_enc: null, updated_at: new Date() })
    .where('id', '=', id)
    .execute();
}

/** Whether an email is held by an account whose identifiers are not yet released (live, or deleted within retention). */
export async function emailHeld(db: Q, email: string): Promise<boolean> {
  const row = await db.selectFrom('users').select('id').where('email_normalized', '=', normalizeEmail(email)).where('released_at', 'is', null).executeTakeFirst();
  return row !== undefined;
}

/**
 * Inserts a password-less account; `undefined` when the username or email was taken meanwhile (the
 * unique indexes decide, without aborting the surrounding transaction).
 */
export async function insertOAuthUser(db: Q, u: { id: string; username: string; email: string | null; emailVerified: boolean }): Promise<UserRow | undefined> {
  return db
    .insertInto('users')
    .values({
      id: u.id,
      email: u.email,
      email_normalized: u.email === null ? null : normalizeEmail(u.email),
      email_verified_at: u.email !== null && u.emailVerified ? new Date() : null,
      username: u.username,
      username_lower: u.username.toLowerCase(),
      password_hash: null,
    })
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}
