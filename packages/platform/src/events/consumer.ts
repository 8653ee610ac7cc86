import { sql, type Kysely, type Transaction } from 'kysely';
import { headers, nanos } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, ReplayPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../logging/logger.js';
import type { PlatformMetrics } from '../metrics/metrics.js';
import { backoffDelay } from '../resilience/retry.js';
import { errorMessage, sleep, withDefaults } from './util.js';
import { parseEnvelope, type EventEnvelope } from './envelope.js';
import { assertPrefix, consumerName, dlqSubject, eventFilter, replayFilter, streamNames } from './naming.js';

export interface EventMeta {
  /** `<service>-<purpose>`. */
  consumer: string;
  /** NATS subject the message arrived on (a replay subject for re-driven events). */
  subject: string;
  stream: string;
  streamSequence: number;
  /** 1 on the first delivery. */
  deliveryCount: number;
  /** True when the event came through the consumer's replay subject. */
  replay: boolean;
}

/** Applies an event inside the transaction that also records it as handled. Throwing rolls both back. */
export type EventHandler<T = any> = (tx: Transaction<any>, event: EventEnvelope<T>, meta: EventMeta) => Promise<void> | void;

/** Thrown by a handler for an event that can never succeed: it is dead-lettered without further retries. */
export class UnprocessableEventError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UnprocessableEventError';
  }
}

export interface ConsumerOptions<T = any> {
  service: string;
  /** Second half of the durable name `<service>-<purpose>`, e.g. `fanout`. */
  purpose: string;
  /** The service's schema, holding its `handled_events` table. */
  schema: string;
  prefix: string;
  /** Kysely without a default schema (the pool's `raw`). */
  db: Kysely<any>;
  js: JetStreamClient;
  jsm: JetStreamManager;
  metrics: PlatformMetrics;
  logger: Logger;
  handler: EventHandler<T>;
  /** One subject filter (NATS 2.9 allows one per consumer), e.g. eventFilter(prefix, 'auth', 'user'). Default `<prefix>.>`. */
  filterSubject?: string;
  /** Deliveries before a failing event is dead-lettered (EVENT_MAX_DELIVER, default 5). */
  maxDeliver?: number;
  ackWaitMs?: number;
  /** Redelivery delay after a failure: retryBaseMs doubling per attempt, capped at retryMaxMs, with jitter. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Messages pulled per request (at least `concurrency`). */
  batchSize?: number;
  /**
   * Events handled at the same time (default 1). Events about the same entity (the envelope's `subject`,
   * e.g. `post/<id>`) are still handled one after the other, in stream order; each handler holds a database
   * connection for its transaction.
   */
  concurrency?: number;
  /** Where a newly created durable starts: every retained event (default) or only new ones. */
  deliverPolicy?: 'all' | 'new';
}

type Outcome = 'handled' | 'duplicate' | 'failed' | 'dead_lettered';

interface Lane {
  stream: string;
  durable: string;
  filter: string;
  replay: boolean;
  messages?: ConsumerMessages;
  loop?: Promise<void>;
}

const HEADER_MAX = 1_024;

function headerValue(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, HEADER_MAX);
}

/**
 * A durable JetStream consumer `<service>-<purpose>` on the events stream, plus its replay durable
 * `<service>-<purpose>-replay`. Each event is applied in one transaction with its handled_events row, so
 * a redelivered or replayed event that was already applied is acknowledged without running the handler.
 * A failing event is retried with backoff and dead-lettered after maxDeliver deliveries.
 */
export class EventConsumer {
  readonly name: string;
  private readonly o: Required<Omit<ConsumerOptions, 'filterSubject'>>;
  private readonly lanes: Lane[];
  private readonly handled;
  private readonly dlq: { subject: string; stream: string };
  private abort = new AbortController();
  private started = false;
  private stopping = false;

  constructor(opts: ConsumerOptions) {
    assertPrefix(opts.prefix);
    this.name = consumerName(opts.service, opts.purpose);
    this.o = withDefaults({ maxDeliver: 5, ackWaitMs: 30_000, retryBaseMs: 1_000, retryMaxMs: 60_000, batchSize: 10, concurrency: 1, deliverPolicy: 'all' as const }, opts);
    if (!Number.isInteger(this.o.concurrency) || this.o.concurrency < 1) throw new Error(`consumer ${this.name}: concurrency must be a positive integer`);
    const filter = opts.filterSubject ?? eventFilter(opts.prefix);
    if (!filter.startsWith(`${opts.prefix}.`)) throw new Error(`filter subject "${filter}" is outside the events stream (${opts.prefix}.>)`);
    const streams = streamNames(opts.prefix);
    this.lanes = [
      { stream: streams.events, durable: this.name, filter, replay: false },
      { stream: streams.replay, durable: `${this.name}-replay`, filter: replayFilter(opts.prefix, this.name), replay: true },
    ];
    this.handled = sql.id(opts.schema, 'handled_events');
    this.dlq = { subject: dlqSubject(opts.prefix, this.name), stream: streams.dlq };
  }

  /** Creates (or updates) both durables, then starts pulling. Fails if JetStream refuses the consumers. */
  async start(): Promise<void> {
    if (this.started) return;
    if (this.stopping) throw new Error(`consumer ${this.name} was stopped`);
    for (const lane of this.lanes) await this.ensureDurable(lane);
    this.started = true;
    for (const lane of this.lanes) lane.loop = this.runLane(lane, true);
  }

  /** Stops fetching, lets the event in flight finish (buffered ones are released for redelivery). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    for (const lane of this.lanes) void lane.messages?.close().catch(() => undefined);
    await Promise.all(this.lanes.map((l) => l.loop));
  }

  private async ensureDurable(lane: Lane): Promise<void> {
    // On 2.9 adding an existing durable updates its mutable fields (filter included) instead of failing.
    await this.o.jsm.consumers.add(lane.stream, {
      durable_name: lane.durable,
      description: lane.replay ? `replays for ${this.name}` : `events for ${this.name}`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: lane.replay || this.o.deliverPolicy === 'all' ? DeliverPolicy.All : DeliverPolicy.New,
      replay_policy: ReplayPolicy.Instant,
      filter_subject: lane.filter,
      ack_wait: nanos(this.o.ackWaitMs),
      // Dead-lettering is ours (after maxDeliver failed handler runs); the server must never give up silently.
      max_deliver: -1,
      max_ack_pending: 1_000,
    });
  }

  private async runLane(lane: Lane, fresh: boolean): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        if (!fresh) await this.ensureDurable(lane);
        fresh = false;
        const consumer = await this.o.js.consumers.get(lane.stream, lane.durable);
        const messages = await consumer.consume({ max_messages: Math.max(this.o.batchSize, this.o.concurrency) });
        lane.messages = messages;
        if (this.stopping) void messages.close().catch(() => undefined);
        void this.watch(lane, messages).catch(() => undefined);
        failures = 0;
        const lanes = new OrderedLanes(this.o.concurrency, (err) => this.o.logger.error({ err, consumer: lane.durable }, 'event processing failed; the event will be redelivered'));
        for await (const m of messages) {
          // Pulled before stop(): hand them back at once instead of waiting for ack_wait.
          if (this.stopping) m.nak();
          else await lanes.run(() => orderingKey(m), () => this.process(m, lane));
        }
        await lanes.drain();
        if (this.stopping) return;
        this.o.logger.warn({ consumer: lane.durable }, 'event consumer stopped receiving; restarting');
      } catch (err) {
        if (this.stopping) return;
        failures++;
        this.o.logger.error({ err, consumer: lane.durable }, 'event consumer failed; restarting');
      }
      await sleep(backoffDelay(failures + 1, 1_000, 30_000), this.abort.signal);
    }
  }

  /** Restarts the lane (recreating the durable) when the server lost it. */
  private async watch(lane: Lane, messages: ConsumerMessages): Promise<void> {
    for await (const s of messages.status()) {
      if (s.type === 'consumer_deleted' || s.type === 'stream_not_found' || (s.type === 'consumer_not_found' && s.count >= 3)) {
        this.o.logger.warn({ consumer: lane.durable, stream: lane.stream, status: s.type }, 'event consumer lost on the server');
        await messages.close().catch(() => undefined);
        return;
      }
    }
  }

  private async process(m: JsMsg, lane: Lane): Promise<void> {
    const attempts = m.info.deliveryCount;
    const parsed = parseEnvelope(m.data);
    if (!parsed.ok) return this.deadLetter(m, `malformed envelope: ${parsed.error}`, undefined);
    const event = parsed.envelope;
    const meta: EventMeta = { consumer: this.name, subject: m.subject, stream: m.info.stream, streamSequence: m.info.streamSequence, deliveryCount: attempts, replay: lane.replay };
    // Keeps the server from redelivering to another replica while a slow handler is still running.
    const keepAlive = setInterval(() => {
      try {
        m.working();
      } catch {
        // The connection is gone; the message will be redelivered, and handled_events makes that harmless.
      }
    }, Math.max(1_000, this.o.ackWaitMs / 3));
    const state = { inHandler: false };
    let outcome: Outcome;
    try {
      outcome = await this.o.db.transaction().execute(async (tx): Promise<Outcome> => {
        const r = await sql`INSERT INTO ${this.handled} (consumer, event_id) VALUES (${this.name}, ${event.id}) ON CONFLICT DO NOTHING`.execute(tx);
        if (Number(r.numAffectedRows ?? 0n) === 0) return 'duplicate';
        state.inHandler = true;
        await this.o.handler(tx, event, meta);
        state.inHandler = false;
        return 'handled';
      });
    } catch (err) {
      // Only the handler's own failures use up attempts; a database outage around it is retried for ever.
      if (state.inHandler && (err instanceof UnprocessableEventError || attempts >= this.o.maxDeliver)) {
        return this.deadLetter(m, errorMessage(err), event.id);
      }
      const delay = backoffDelay(attempts, this.o.retryBaseMs, this.o.retryMaxMs);
      m.nak(delay);
      this.count('failed');
      this.o.logger.warn({ err, consumer: this.name, eventId: event.id, type: event.type, attempts, retryInMs: delay }, 'event handler failed; will retry');
      return;
    } finally {
      clearInterval(keepAlive);
    }
    m.ack();
    this.count(outcome);
  }

  private async deadLetter(m: JsMsg, reason: string, eventId: string | undefined): Promise<void> {
    const h = headers();
    h.set('Nova-Consumer', this.name);
    h.set('Nova-Original-Subject', m.subject);
    h.set('Nova-Original-Stream', m.info.stream);
    h.set('Nova-Original-Sequence', String(m.info.streamSequence));
    h.set('Nova-Error', headerValue(reason));
    h.set('Nova-Attempts', String(m.info.deliveryCount));
    if (eventId) h.set('Nova-Event-Id', eventId);
    h.set('Nova-Failed-At', new Date().toISOString());
    try {
      await this.o.js.publish(this.dlq.subject, m.data, {
        headers: h,
        msgID: `${this.name}:${m.info.stream}:${m.info.streamSequence}`,
        expect: { streamName: this.dlq.stream },
      });
    } catch (err) {
      const delay = backoffDelay(m.info.deliveryCount, this.o.retryBaseMs, this.o.retryMaxMs);
      m.nak(delay);
      this.count('failed');
      this.o.logger.error({ err, consumer: this.name, eventId, retryInMs: delay }, 'could not dead-letter an event; will retry');
      return;
    }
    m.term();
    this.count('dead_lettered');
    this.o.metrics.eventsDeadLettered.inc({ consumer: this.name });
    this.o.logger.warn({ consumer: this.name, eventId, subject: m.subject, attempts: m.info.deliveryCount, reason }, 'event dead-lettered');
  }

  private count(outcome: Outcome): void {
    this.o.metrics.eventsConsumed.inc({ consumer: this.name, outcome });
  }
}

/** The entity an event is about (its envelope's `subject`); events with the same key are handled in order. */
function orderingKey(m: JsMsg): string {
  const parsed = parseEnvelope(m.data);
  return parsed.ok ? parsed.envelope.subject : '';
}

/**
 * Runs tasks with at most `limit` at once, one at a time per key, in the order they were given. `run` waits
 * only while the limit is reached (so the caller pulls the next message as soon as there is room).
 */
class OrderedLanes {
  private readonly running = new Set<Promise<void>>();
  private readonly tails = new Map<string, Promise<void>>();

  constructor(
    private readonly limit: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  async run(keyOf: () => string, task: () => Promise<void>): Promise<void> {
    if (this.limit === 1) return task();
    while (this.running.size >= this.limit) await Promise.race(this.running);
    const key = keyOf();
    const before = this.tails.get(key) ?? Promise.resolve();
    const done: Promise<void> = before.then(task).catch(this.onError).finally(() => {
      this.running.delete(done);
      if (this.tails.get(key) === done) this.tails.delete(key);
    });
    this.tails.set(key, done);
    this.running.add(done);
  }

  async drain(): Promise<void> {
    await Promise.all(this.running);
  }
}
