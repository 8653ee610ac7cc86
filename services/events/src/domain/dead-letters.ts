import { AppError, streamNames, type EventEnvelope } from '@nova/platform';
import type { AppContext } from '../context.js';

export interface DeadLetter {
  seq: number;
  consumer: string | null;
  original_subject: string | null;
  error: string | null;
  attempts: number | null;
  failed_at: string | null;
  event_id: string | null;
  /** The original payload: the envelope when it parsed, else the raw text. */
  event: EventEnvelope | string;
}

function toDeadLetter(msg: { seq: number; header: { get(k: string): string }; string(): string; time: Date }): DeadLetter {
  const h = (k: string) => msg.header?.get(k) || null;
  const text = msg.string();
  let event: EventEnvelope | string = text;
  try {
    event = JSON.parse(text) as EventEnvelope;
  } catch {
    // A malformed payload is exactly why some messages land here: show it as text.
  }
  const attempts = h('Nova-Attempts');
  return {
    seq: msg.seq,
    consumer: h('Nova-Consumer'),
    original_subject: h('Nova-Original-Subject'),
    error: h('Nova-Error'),
    attempts: attempts === null ? null : Number(attempts),
    failed_at: h('Nova-Failed-At') ?? msg.time.toISOString(),
    event_id: h('Nova-Event-Id'),
    event,
  };
}

/** Dead letters in stream order, starting after `afterSeq`; optionally only one consumer's. */
export async function listDeadLetters(ctx: AppContext, opts: { afterSeq?: number; limit: number; consumer?: string }): Promise<{ dead_letters: DeadLetter[]; next_cursor: string | null }> {
  const stream = streamNames(ctx.prefix).dlq;
  const filter = opts.consumer ? `${ctx.prefix}_dlq.${opts.consumer}` : `${ctx.prefix}_dlq.>`;
  const out: DeadLetter[] = [];
  let seq = (opts.afterSeq ?? 0) + 1;
  while (out.length < opts.limit) {
    const msg = await ctx.nats.jsm.direct.getMessage(stream, { seq, next_by_subj: filter }).catch(notFoundAsNull);
    if (!msg) break;
    out.push(toDeadLetter(msg));
    seq = msg.seq + 1;
  }
  const last = out.at(-1);
  return { dead_letters: out, next_cursor: out.length === opts.limit && last ? String(last.seq) : null };
}

async function getDeadLetter(ctx: AppContext, seq: number): Promise<DeadLetter> {
  const msg = await ctx.nats.jsm.streams.getMessage(streamNames(ctx.prefix).dlq, { seq }).catch(notFoundAsNull);
  if (!msg) throw new AppError('NOT_FOUND', `dead letter ${seq} not found`);
  return toDeadLetter(msg);
}

/**
 * Publishes the event again on its original subject and removes it from the dead-letter stream.
 * Every consumer of that subject receives it, but those that already handled the event skip it (their
 * handled_events table), so in effect only the consumer that failed runs it again.
 */
export async function redrive(ctx: AppContext, seq: number): Promise<{ seq: number; event_id: string | null; subject: string }> {
  const dl = await getDeadLetter(ctx, seq);
  if (!dl.original_subject || typeof dl.event === 'string') {
    throw new AppError('PRECONDITION_FAILED', 'this dead letter is not a valid event and cannot be re-driven; discard it');
  }
  await ctx.nats.js.publish(dl.original_subject, JSON.stringify(dl.event), { msgID: `${dl.event_id ?? dl.event.id}:redrive:${seq}` });
  await ctx.nats.jsm.streams.deleteMessage(streamNames(ctx.prefix).dlq, seq, false);
  ctx.logger.info({ seq, event_id: dl.event_id, subject: dl.original_subject, consumer: dl.consumer }, 'dead letter re-driven');
  return { seq, event_id: dl.event_id, subject: dl.original_subject };
}

export async function discard(ctx: AppContext, seq: number): Promise<void> {
  await getDeadLetter(ctx, seq);
  await ctx.nats.jsm.streams.deleteMessage(streamNames(ctx.prefix).dlq, seq, false);
  ctx.logger.info({ seq }, 'dead letter discarded');
}

function notFoundAsNull(err: unknown): null {
  const e = err as { code?: string | number; message?: string; api_error?: { err_code?: number } };
  if (e?.api_error?.err_code === 10037 || String(e?.code) === '404' || /no message found|not found/i.test(e?.message ?? '')) return null;
  throw err;
}
