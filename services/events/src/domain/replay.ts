import { AppError, newId, replaySubject, streamNames } from '@nova/platform';
import * as q from '../db/queries/archive.js';
import type { AppContext } from '../context.js';
import { parseRange } from './archive.js';

const BATCH = 500;

export interface ReplayRequest {
  consumer: string;
  from: string;
  to: string;
  type?: string | undefined;
  source?: string | undefined;
}

/**
 * Re-delivers archived events of a time range, oldest first, to one named consumer (its replay durable).
 * The consumer skips events it has already handled, so a replay fills gaps and is safe to repeat.
 */
export async function replay(ctx: AppContext, req: ReplayRequest): Promise<{ replay_id: string; consumer: string; published: number }> {
  const range = parseRange(req.from, req.to);
  if (!range.from || !range.to) throw new AppError('VALIDATION_FAILED', 'from and to are required');
  const subjects = await consumerSubjects(ctx, req.consumer);
  // The replay lane takes whatever is published to it, so only the events the consumer subscribes to are sent.
  const filter: q.ArchiveFilter = { ...range, type: req.type, source: req.source, natsSubjectPattern: subjectPattern(subjects) };
  const total = await q.countEvents(ctx.db, filter);
  if (total > ctx.replayMax) {
    throw new AppError('VALIDATION_FAILED', `the range holds ${total} events, more than the ${ctx.replayMax} one replay may publish; narrow it`, {
      details: { events: total, max: ctx.replayMax },
    });
  }
  const replayId = newId();
  let published = 0;
  let after: { occurredAt: Date; id: string } | undefined;
  for (;;) {
    const rows = await q.eventsInRange(ctx.db, filter, BATCH, after);
    if (rows.length === 0) break;
    await Promise.all(
      rows.map((e) => {
        const envelope = { id: e.id, type: e.type, version: e.version, source: e.source, subject: e.subject, occurred_at: e.occurred_at.toISOString(), correlation_id: e.correlation_id, data: e.data };
        return ctx.nats.js.publish(replaySubject(ctx.prefix, req.consumer, e.nats_subject), JSON.stringify(envelope), { msgID: `${e.id}:replay:${replayId}` });
      }),
    );
    published += rows.length;
    const last = rows.at(-1)!;
    after = { occurredAt: last.occurred_at, id: last.id };
  }
  ctx.logger.info({ replay_id: replayId, consumer: req.consumer, published, from: req.from, to: req.to }, 'events replayed');
  return { replay_id: replayId, consumer: req.consumer, published };
}

/** Checks that the consumer listens for replays, and returns the subject filters of its events durable. */
async function consumerSubjects(ctx: AppContext, consumer: string): Promise<string[]> {
  if (!/^[a-z][a-z0-9_]*-[A-Za-z0-9_-]+$/.test(consumer)) {
    throw new AppError('VALIDATION_FAILED', 'consumer must be a durable consumer name like "<service>-<purpose>"');
  }
  const streams = streamNames(ctx.prefix);
  try {
    await ctx.nats.jsm.consumers.info(streams.replay, `${consumer}-replay`);
    const { config } = await ctx.nats.jsm.consumers.info(streams.events, consumer);
    return [...(config.filter_subjects ?? []), ...(config.filter_subject ? [config.filter_subject] : [])];
  } catch (err) {
    if (/not found/i.test((err as Error).message)) throw new AppError('NOT_FOUND', `no consumer named ${consumer} is listening for replays`);
    throw err;
  }
}

/** NATS subject filters (`a.*.c`, `a.>`) as one anchored PostgreSQL regular expression; undefined for none. */
function subjectPattern(filters: string[]): string | undefined {
  if (filters.length === 0) return undefined;
  const one = (filter: string) =>
    filter
      .split('.')
      .map((token) => (token === '*' ? '[^.]+' : token === '>' ? '.+' : token.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')))
      .join('\\.');
  return `^(?:${filters.map(one).join('|')})$`;
}
