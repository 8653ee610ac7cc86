import { AppError, decodeCursor, encodeCursor, isUuid, type EventEnvelope } from '@nova/platform';
import * as q from '../db/queries/archive.js';
import type { AppContext } from '../context.js';

export interface EventView {
  id: string;
  type: string;
  version: number;
  source: string;
  subject: string;
  nats_subject: string;
  occurred_at: string;
  correlation_id: string | null;
  data: unknown;
}

export function toView(e: q.ArchivedEvent): EventView {
  return { ...e, occurred_at: e.occurred_at.toISOString() };
}

/** Stores one event from the bus; a redelivered event is stored once. */
export async function archive(tx: Parameters<typeof q.insertEvent>[0], envelope: EventEnvelope, natsSubject: string): Promise<void> {
  await q.insertEvent(tx, {
    id: envelope.id,
    type: envelope.type,
    version: envelope.version,
    source: envelope.source,
    subject: envelope.subject,
    nats_subject: natsSubject,
    occurred_at: new Date(envelope.occurred_at),
    correlation_id: envelope.correlation_id,
    data: envelope.data,
  });
}

export interface ListQuery {
  type?: string | undefined;
  source?: string | undefined;
  subject?: string | undefined;
  correlation_id?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export function parseRange(from?: string, to?: string): { from?: Date; to?: Date } {
  const parse = (name: string, s?: string) => {
    if (s === undefined || s === '') return undefined;
    const d = new Date(s);
    if (Number.isNaN(d.getTime())) throw new AppError('VALIDATION_FAILED', `${name} must be an RFC 3339 timestamp`);
    return d;
  };
  const range = { from: parse('from', from), to: parse('to', to) };
  if (range.from && range.to && range.from >= range.to) throw new AppError('VALIDATION_FAILED', 'from must be before to');
  return Object.fromEntries(Object.entries(range).filter(([, v]) => v !== undefined));
}

export async function listEvents(ctx: AppContext, query: ListQuery): Promise<{ events: EventView[]; next_cursor: string | null }> {
  const limit = Math.min(Math.max(query.limit ?? 50, 1), 200);
  const range = parseRange(query.from, query.to);
  let after: { occurredAt: Date; id: string } | undefined;
  if (query.cursor) {
    const [ts, id] = decodeCursor(query.cursor, ['string', 'string']) as [string, string];
    const occurredAt = new Date(ts);
    // A well-formed but edited cursor must not reach PostgreSQL as an invalid timestamp or uuid (a 500).
    if (Number.isNaN(occurredAt.getTime()) || !isUuid(id)) throw new AppError('VALIDATION_FAILED', 'invalid cursor');
    after = { occurredAt, id };
  }
  const rows = await q.listEvents(ctx.db, { type: query.type, source: query.source, subject: query.subject, correlationId: query.correlation_id, ...range }, limit + 1, after);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    events: page.map(toView),
    next_cursor: rows.length > limit && last ? encodeCursor([last.occurred_at.toISOString(), last.id]) : null,
  };
}

export async function getEvent(ctx: AppContext, id: string): Promise<EventView> {
  // HTTP checks the format in its schema; gRPC callers reach here with any string.
  if (!isUuid(id)) throw new AppError('VALIDATION_FAILED', 'id must be a UUID');
  const row = await q.getEvent(ctx.db, id);
  if (!row) throw new AppError('NOT_FOUND', 'event not found');
  return toView(row);
}

export async function catalogue(ctx: AppContext) {
  const rows = await q.catalogue(ctx.db);
  return rows.map((r) => ({ ...r, first_seen: r.first_seen.toISOString(), last_seen: r.last_seen.toISOString() }));
}
