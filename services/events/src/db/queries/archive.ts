import { sql, type DbOrTx } from '@nova/platform';
import type { EventsDb } from '../schema.js';

type Q = DbOrTx<EventsDb>;

export interface ArchivedEvent {
  id: string;
  type: string;
  version: number;
  source: string;
  subject: string;
  nats_subject: string;
  occurred_at: Date;
  correlation_id: string | null;
  data: unknown;
}

export interface ArchiveFilter {
  type?: string | undefined;
  source?: string | undefined;
  subject?: string | undefined;
  correlationId?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** PostgreSQL regular expression the NATS subject must match (a consumer's subject filter). */
  natsSubjectPattern?: string | undefined;
}

/** Inserts an event once; returns false when it was already archived. */
export async function insertEvent(db: Q, e: ArchivedEvent): Promise<boolean> {
  const res = await db
    .insertInto('archive')
    .values({ ...e, data: JSON.stringify(e.data) })
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  return (res.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

const COLUMNS = ['id', 'type', 'version', 'source', 'subject', 'nats_subject', 'occurred_at', 'correlation_id', 'data'] as const;

function filtered(db: Q, f: ArchiveFilter) {
  let q = db.selectFrom('archive').select(COLUMNS);
  if (f.type) q = q.where('type', '=', f.type);
  if (f.source) q = q.where('source', '=', f.source);
  if (f.subject) q = q.where('subject', '=', f.subject);
  if (f.correlationId) q = q.where('correlation_id', '=', f.correlationId);
  if (f.from) q = q.where('occurred_at', '>=', f.from);
  if (f.to) q = q.where('occurred_at', '<', f.to);
  if (f.natsSubjectPattern) q = q.where(sql<boolean>`nats_subject ~ ${f.natsSubjectPattern}`);
  return q;
}

/** Newest first, keyset-paginated on (occurred_at, id). */
export async function listEvents(db: Q, f: ArchiveFilter, limit: number, after?: { occurredAt: Date; id: string }): Promise<ArchivedEvent[]> {
  let q = filtered(db, f);
  if (after) q = q.where(sql<boolean>`(occurred_at, id) < (${after.occurredAt}, ${after.id}::uuid)`);
  return q.orderBy('occurred_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
}

/** Oldest first, for replays: keyset-paginated on (occurred_at, id). */
export async function eventsInRange(db: Q, f: ArchiveFilter, limit: number, after?: { occurredAt: Date; id: string }): Promise<ArchivedEvent[]> {
  let q = filtered(db, f);
  if (after) q = q.where(sql<boolean>`(occurred_at, id) > (${after.occurredAt}, ${after.id}::uuid)`);
  return q.orderBy('occurred_at', 'asc').orderBy('id', 'asc').limit(limit).execute();
}

export async function getEvent(db: Q, id: string): Promise<ArchivedEvent | undefined> {
  return db.selectFrom('archive').select(COLUMNS).where('id', '=', id).executeTakeFirst();
}

export interface CatalogueEntry {
  type: string;
  source: string;
  latest_version: number;
  count: number;
  first_seen: Date;
  last_seen: Date;
}

/** Every event type seen on the bus, with its producer, latest schema version and volume. */
export async function catalogue(db: Q): Promise<CatalogueEntry[]> {
  const rows = await db
    .selectFrom('archive')
    .select((eb) => [
      'type',
      'source',
      eb.fn.max('version').as('latest_version'),
      eb.fn.countAll<string>().as('count'),
      eb.fn.min('occurred_at').as('first_seen'),
      eb.fn.max('occurred_at').as('last_seen'),
    ])
    .groupBy(['type', 'source'])
    .orderBy('source')
    .orderBy('type')
    .execute();
  return rows.map((r) => ({ ...r, count: Number(r.count) }));
}

export async function countEvents(db: Q, f: ArchiveFilter): Promise<number> {
  const row = await filtered(db, f).clearSelect().select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}
