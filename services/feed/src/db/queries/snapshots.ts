import { sql, type Kysely } from '@nova/platform';
import type { FeedDb } from '../schema.js';

export async function insertSnapshot(db: Kysely<FeedDb>, id: string, ownerId: string, entries: string[], ttlSeconds: number): Promise<void> {
  await sql`INSERT INTO feed.snapshots (id, owner_id, entries, expires_at) VALUES (${id}, ${ownerId}, ${JSON.stringify(entries)}::jsonb, now() + make_interval(secs => ${ttlSeconds}))`.execute(db);
}

/** A slice of a live snapshot of `ownerId`, and its length; undefined when it expired or is someone else's. */
export async function snapshotSlice(db: Kysely<FeedDb>, id: string, ownerId: string, offset: number, limit: number): Promise<{ entries: unknown[]; total: number } | undefined> {
  const { rows } = await sql<{ entries: unknown[]; total: number }>`
    SELECT coalesce((SELECT jsonb_agg(e ORDER BY i) FROM jsonb_array_elements(s.entries) WITH ORDINALITY AS t(e, i) WHERE i > ${offset} AND i <= ${offset + limit}), '[]'::jsonb) AS entries,
      jsonb_array_length(s.entries) AS total
    FROM feed.snapshots s WHERE s.id = ${id} AND s.owner_id = ${ownerId} AND s.expires_at > now()`.execute(db);
  return rows[0];
}

export async function purgeSnapshots(db: Kysely<FeedDb>): Promise<void> {
  await sql`DELETE FROM feed.snapshots WHERE expires_at <= now()`.execute(db);
}

export async function deleteOwnerSnapshots(db: Kysely<FeedDb>, ownerId: string): Promise<void> {
  await db.deleteFrom('snapshots').where('owner_id', '=', ownerId).execute();
}
