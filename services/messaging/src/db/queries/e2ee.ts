import { sql, type DbOrTx, type Selectable, type Tx } from '@nova/platform';
import type { DevicesTable, EnvelopesTable, MessagingDb } from '../schema.js';

export type DeviceRow = Selectable<DevicesTable>;
export type EnvelopeRow = Selectable<EnvelopesTable>;

/** Serialises device-list changes of one user against sends that read that list (advisory, transaction-scoped). */
export async function lockDeviceList(tx: Tx<MessagingDb>, userId: string, shared: boolean): Promise<void> {
  if (shared) await sql`SELECT pg_advisory_xact_lock_shared(hashtextextended(${`nova.devices:${userId}`}, 0))`.execute(tx);
  else await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`nova.devices:${userId}`}, 0))`.execute(tx);
}

export async function findAccount(db: DbOrTx<MessagingDb>, userId: string) {
  return db.selectFrom('e2ee_accounts').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

export async function upsertAccount(tx: Tx<MessagingDb>, userId: string, identityKey: Buffer): Promise<void> {
  await tx
    .insertInto('e2ee_accounts')
    .values({ user_id: userId, identity_key: identityKey })
    .onConflict((oc) => oc.column('user_id').doUpdateSet({ identity_key: identityKey, identity_changed_at: sql`clock_timestamp()` }))
    .execute();
}

export async function deviceBySession(db: DbOrTx<MessagingDb>, sessionId: string): Promise<DeviceRow | undefined> {
  return db.selectFrom('devices').selectAll().where('session_id', '=', sessionId).where('removed_at', 'is', null).executeTakeFirst();
}

/** A live device, its row locked (FOR UPDATE) for the transaction: concurrent key uploads of one device take turns. */
export async function lockLiveDevice(tx: Tx<MessagingDb>, id: string): Promise<DeviceRow | undefined> {
  return tx.selectFrom('devices').selectAll().where('id', '=', id).where('removed_at', 'is', null).forUpdate().executeTakeFirst();
}

export async function liveDevices(db: DbOrTx<MessagingDb>, userIds: readonly string[]): Promise<DeviceRow[]> {
  if (userIds.length === 0) return [];
  return db.selectFrom('devices').selectAll().where('user_id', 'in', userIds).where('removed_at', 'is', null).orderBy('user_id').orderBy('device_id').execute();
}

export async function insertDevice(tx: Tx<MessagingDb>, row: { id: string; user_id: string; device_id: number; session_id: string; registration_id: number; name: string | null }): Promise<DeviceRow> {
  return tx.insertInto('devices').values(row).returningAll().executeTakeFirstOrThrow();
}

/** Soft-deletes devices and frees what they held: their one-time prekeys and their queued envelopes. */
export async function removeDevices(tx: Tx<MessagingDb>, ids: readonly string[], by: string): Promise<void> {
  if (ids.length === 0) return;
  await tx.deleteFrom('one_time_prekeys').where('device', 'in', ids).execute();
  await tx.deleteFrom('envelopes').where('recipient_device', 'in', ids).execute();
  await tx
    .updateTable('devices')
    .set({ removed_at: sql`clock_timestamp()`, removed_by: by, signed_prekey: null, signed_prekey_signature: null, signed_prekey_id: null, kyber_last_resort: null, kyber_last_resort_signature: null, kyber_last_resort_id: null })
    .where('id', 'in', ids)
    .where('removed_at', 'is', null)
    .execute();
}

export async function setSignedPrekeys(tx: Tx<MessagingDb>, id: string, keys: { signed_prekey_id: number; signed_prekey: Buffer; signed_prekey_signature: Buffer; kyber_last_resort_id: number; kyber_last_resort: Buffer; kyber_last_resort_signature: Buffer }): Promise<void> {
  await tx.updateTable('devices').set(keys).where('id', '=', id).execute();
}

export async function addOneTimePrekeys(tx: Tx<MessagingDb>, rows: { device: string; kind: 'ec' | 'kyber'; key_id: number; public_key: Buffer; signature: Buffer | null }[]): Promise<void> {
  if (rows.length === 0) return;
  await tx
    .insertInto('one_time_prekeys')
    .values(rows)
    .onConflict((oc) => oc.columns(['device', 'kind', 'key_id']).doUpdateSet((eb) => ({ public_key: eb.ref('excluded.public_key'), signature: eb.ref('excluded.signature') })))
    .execute();
}

/**
 * Claims (deletes and returns) the lowest one-time prekey of a kind: the row is locked with SKIP LOCKED and
 * deleted in one statement, so two concurrent claims never get the same key.
 */
export async function claimOneTimePrekey(db: DbOrTx<MessagingDb>, device: string, kind: 'ec' | 'kyber') {
  const { rows } = await sql<{ key_id: number; public_key: Buffer; signature: Buffer | null }>`
    DELETE FROM messaging.one_time_prekeys
    WHERE (device, kind, key_id) = (
      SELECT device, kind, key_id FROM messaging.one_time_prekeys
      WHERE device = ${device} AND kind = ${kind}
      ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING key_id, public_key, signature`.execute(db);
  return rows[0];
}

export async function countOneTimePrekeys(db: DbOrTx<MessagingDb>, device: string): Promise<{ ec: number; kyber: number }> {
  const rows = await db.selectFrom('one_time_prekeys').select(['kind', (eb) => eb.fn.countAll<string>().as('n')]).where('device', '=', device).groupBy('kind').execute();
  const get = (k: string) => Number(rows.find((r) => r.kind === k)?.n ?? 0);
  return { ec: get('ec'), kyber: get('kyber') };
}

/** Envelope rows per INSERT: seven bind parameters each, and one statement carries at most 65 535. */
const ENVELOPE_CHUNK = 2_000;

export async function insertEnvelopes(tx: Tx<MessagingDb>, rows: Omit<EnvelopesTable, 'id' | 'created_at'>[], at: Date): Promise<EnvelopeRow[]> {
  const out: EnvelopeRow[] = [];
  for (let i = 0; i < rows.length; i += ENVELOPE_CHUNK) {
    out.push(...(await tx.insertInto('envelopes').values(rows.slice(i, i + ENVELOPE_CHUNK).map((r) => ({ ...r, created_at: at }))).returningAll().execute()));
  }
  return out;
}

/** A device's queued envelopes after `afterId`, oldest first, not older than `notBefore`. */
export async function pageEnvelopes(db: DbOrTx<MessagingDb>, device: string, afterId: string | undefined, notBefore: Date, limit: number): Promise<EnvelopeRow[]> {
  let q = db.selectFrom('envelopes').selectAll().where('recipient_device', '=', device).where('created_at', '>=', notBefore);
  if (afterId !== undefined) q = q.where('id', '>', afterId as never);
  return q.orderBy('id').limit(limit).execute();
}

export async function ackEnvelopes(db: DbOrTx<MessagingDb>, device: string, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const res = await db.deleteFrom('envelopes').where('recipient_device', '=', device).where('id', 'in', ids as never[]).executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** Deletes up to `batch` envelopes created before `before`; returns how many. */
export async function purgeExpired(db: DbOrTx<MessagingDb>, before: Date, batch: number): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    WITH gone AS (DELETE FROM messaging.envelopes WHERE id IN (SELECT id FROM messaging.envelopes WHERE created_at < ${before} ORDER BY created_at LIMIT ${batch}) RETURNING 1)
    SELECT count(*) AS n FROM gone`.execute(db);
  return Number(rows[0]?.n ?? 0);
}

/** Members who deleted the conversation's message request get a new one (the sender wrote again); returns them. */
export async function reviveDeclined(tx: Tx<MessagingDb>, conversationId: string): Promise<string[]> {
  const rows = await tx.updateTable('members').set({ status: 'request' }).where('conversation_id', '=', conversationId).where('left_at', 'is', null).where('status', '=', 'declined').returning('user_id').execute();
  return rows.map((r) => r.user_id);
}

/** Users who receive a conversation's envelopes: members who have not left (and not declined a request). */
export async function conversationRecipients(db: DbOrTx<MessagingDb>, conversationId: string): Promise<string[]> {
  const rows = await db.selectFrom('members').select('user_id').where('conversation_id', '=', conversationId).where('left_at', 'is', null).where('status', '<>', 'declined').orderBy('user_id').execute();
  return rows.map((r) => r.user_id);
}
