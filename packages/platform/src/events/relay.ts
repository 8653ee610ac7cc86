import { sql, type Kysely } from 'kysely';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Logger } from '../logging/logger.js';
import type { PlatformMetrics } from '../metrics/metrics.js';
import { backoffDelay } from '../resilience/retry.js';
import { errorMessage, sleep, withDefaults } from './util.js';
import type { EventEnvelope } from './envelope.js';
import { assertPrefix, assertToken, streamNames } from './naming.js';
import { openOutboxStatusBucket, reportOutboxStatus, type OutboxStatus } from './outbox-status.js';

export interface OutboxRelayOptions {
  service: string;
  schema: string;
  prefix: string;
  /** Kysely without a default schema (the pool's `raw`). */
  db: Kysely<any>;
  js: JetStreamClient;
  /** The outbox status bucket; opened from `js` when omitted. */
  kv?: KV;
  metrics: PlatformMetrics;
  logger: Logger;
  /** How often an idle relay looks for rows (OUTBOX_POLL_INTERVAL_MS, default 200). */
  pollIntervalMs?: number;
  batchSize?: number;
  publishTimeoutMs?: number;
  /** First retry delay after a failed publish; doubles per attempt up to retryMaxMs (with jitter). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** How often gauges and the KV status are refreshed (default 5 s). */
  statusIntervalMs?: number;
  /** Published rows older than this are deleted (default 7 days), checked every pruneIntervalMs. */
  retentionMs?: number;
  pruneIntervalMs?: number;
  /** Fault injection for tests: runs after each publish is acknowledged, before the row is marked published. */
  afterPublish?: (envelope: EventEnvelope) => void | Promise<void>;
}

export interface RelayBatchResult {
  claimed: number;
  published: number;
  /** Set when a publish failed: the rows from the failed one on are retried after this delay. */
  retryInMs?: number;
  error?: string;
}

interface OutboxRow {
  id: string;
  subject: string;
  envelope: EventEnvelope;
  attempts: number;
}

const DAY = 86_400_000;
const PRUNE_CHUNK = 1_000;

function describePublishError(err: unknown, subject: string, timeoutMs: number): string {
  const name = err instanceof Error ? err.name : '';
  // The client reports "no responders" (no stream captures the subject) as JetStream being disabled.
  if (name === 'JetStreamNotEnabled') return `no JetStream stream answered on ${subject} (stream missing, or JetStream disabled)`;
  if (name === 'TimeoutError') return `no acknowledgement for ${subject} within ${timeoutMs} ms (NATS unreachable or slow)`;
  return `publishing ${subject} failed: ${errorMessage(err)}`.slice(0, 1_000);
}

/**
 * Publishes a service's outbox to JetStream. Rows are claimed with FOR UPDATE SKIP LOCKED, so replicas
 * can run side by side; each is published with its event id as the message id (JetStream drops a
 * re-publish within the duplicate window) and marked published in the same transaction.
 *
 * Order: rows go out oldest first, one at a time. When a publish fails, that row and the rest of its
 * batch are retried later (exponential backoff with jitter), and no newer row overtakes them meanwhile.
 * Only replicas publishing disjoint batches at the same moment can interleave.
 */
export class OutboxRelay {
  private readonly o: Required<Omit<OutboxRelayOptions, 'kv' | 'afterPublish'>> & Pick<OutboxRelayOptions, 'afterPublish'>;
  private readonly table;
  private readonly stream: string;
  private kv: KV | undefined;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private unreported = 0;
  private lastStatusAt = 0;
  private lastPruneAt = 0;
  private background: Promise<void> = Promise.resolve();
  private backgroundBusy = false;

  constructor(opts: OutboxRelayOptions) {
    assertPrefix(opts.prefix);
    assertToken('service', opts.service);
    this.o = withDefaults(
      { pollIntervalMs: 200, batchSize: 100, publishTimeoutMs: 5_000, retryBaseMs: 500, retryMaxMs: 30_000, statusIntervalMs: 5_000, retentionMs: 7 * DAY, pruneIntervalMs: 10 * 60_000 },
      opts,
    );
    this.kv = opts.kv;
    this.table = sql.id(opts.schema, 'outbox');
    this.stream = streamNames(opts.prefix).events;
  }

  start(): void {
    if (this.loop) return;
    const abort = new AbortController();
    this.abort = abort;
    this.loop = this.run(abort.signal);
  }

  /** Stops polling; resolves once the batch in flight (if any) is committed or rolled back. */
  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = undefined;
    this.abort = undefined;
  }

  /** Claims, publishes and marks one batch. Throws if the database fails (or the test hook throws). */
  async runOnce(): Promise<RelayBatchResult> {
    const { metrics, service } = this.o;
    const result = await this.o.db.transaction().execute(async (tx) => {
      const rows = await this.claim(tx);
      const published: string[] = [];
      let failedAt = -1;
      let failure: unknown;
      for (const [i, row] of rows.entries()) {
        try {
          const ack = await this.o.js.publish(row.subject, JSON.stringify(row.envelope), {
            msgID: row.id,
            timeout: this.o.publishTimeoutMs,
            expect: { streamName: this.stream },
          });
          if (ack.duplicate) this.o.logger.debug({ eventId: row.id }, 'outbox event was already in the stream');
        } catch (err) {
          failedAt = i;
          failure = err;
          break;
        }
        published.push(row.id);
        if (this.o.afterPublish) await this.o.afterPublish(row.envelope);
      }
      if (published.length > 0) {
        await sql`UPDATE ${this.table} SET published_at = clock_timestamp(), last_error = NULL WHERE id = ANY(${published}::uuid[])`.execute(tx);
      }
      const out: RelayBatchResult = { claimed: rows.length, published: published.length };
      const head = rows[failedAt];
      if (head) {
        out.retryInMs = backoffDelay(head.attempts + 1, this.o.retryBaseMs, this.o.retryMaxMs);
        out.error = describePublishError(failure, head.subject, this.o.publishTimeoutMs);
        const retry = rows.slice(failedAt).map((r) => r.id);
        // The whole remainder shares one retry time, so it keeps its order when it becomes due.
        await sql`
          UPDATE ${this.table}
          SET attempts = attempts + 1, last_error = ${out.error},
              next_attempt_at = clock_timestamp() + ${out.retryInMs} * interval '1 millisecond'
          WHERE id = ANY(${retry}::uuid[])`.execute(tx);
      }
      return out;
    });
    if (result.published > 0) {
      metrics.outboxPublished.inc({ service }, result.published);
      this.unreported += result.published;
    }
    if (result.error !== undefined) {
      metrics.outboxPublishFailures.inc({ service });
      this.o.logger.warn({ error: result.error, retryInMs: result.retryInMs, pending: result.claimed - result.published }, 'outbox publish failed; will retry');
    }
    return result;
  }

  /** Reads the backlog, sets the outbox gauges and reports to the KV bucket (best effort). */
  async refreshStatus(): Promise<OutboxStatus> {
    const { rows } = await sql<{ pending: number; oldest: number; last_error: string | null }>`
      SELECT count(*)::int AS pending,
             COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest,
             (SELECT last_error FROM ${this.table}
               WHERE published_at IS NULL AND last_error IS NOT NULL
               ORDER BY created_at, id LIMIT 1) AS last_error
      FROM ${this.table} WHERE published_at IS NULL`.execute(this.o.db);
    const row = rows[0] ?? { pending: 0, oldest: 0, last_error: null };
    const { metrics, service } = this.o;
    metrics.outboxPending.set({ service }, row.pending);
    metrics.outboxOldestAge.set({ service }, row.oldest);
    const status: Omit<OutboxStatus, 'published_total'> = {
      service,
      pending: row.pending,
      oldest_pending_age_seconds: row.oldest,
      last_error: row.last_error,
      updated_at: new Date().toISOString(),
    };
    const delta = this.unreported;
    try {
      this.kv ??= await openOutboxStatusBucket(this.o.js, this.o.prefix);
      const reported = await reportOutboxStatus(this.kv, status, delta);
      this.unreported -= delta;
      return reported;
    } catch (err) {
      this.o.logger.debug({ err: errorMessage(err) }, 'could not report outbox status');
      return { ...status, published_total: delta };
    }
  }

  /** Deletes published rows older than the retention, in small chunks. Returns how many. */
  async prune(): Promise<number> {
    let total = 0;
    for (;;) {
      const r = await sql`
        DELETE FROM ${this.table} WHERE id IN (
          SELECT id FROM ${this.table}
          WHERE published_at < now() - ${this.o.retentionMs} * interval '1 millisecond'
          LIMIT ${PRUNE_CHUNK})`.execute(this.o.db);
      const n = Number(r.numAffectedRows ?? 0n);
      total += n;
      if (n < PRUNE_CHUNK) return total;
    }
  }

  private async claim(tx: Kysely<any>): Promise<OutboxRow[]> {
    // `head` is the oldest row waiting for a retry: nothing newer is published before it.
    const { rows } = await sql<OutboxRow>`
      WITH head AS (
        SELECT created_at, id FROM ${this.table}
        WHERE published_at IS NULL AND next_attempt_at > now()
        ORDER BY created_at, id LIMIT 1
      )
      SELECT o.id, o.subject, o.envelope, o.attempts FROM ${this.table} o
      WHERE o.published_at IS NULL AND o.next_attempt_at <= now()
        AND NOT EXISTS (SELECT 1 FROM head h WHERE (h.created_at, h.id) < (o.created_at, o.id))
      ORDER BY o.created_at, o.id
      LIMIT ${this.o.batchSize}
      FOR UPDATE OF o SKIP LOCKED`.execute(tx);
    return rows;
  }

  private async run(signal: AbortSignal): Promise<void> {
    let dbFailures = 0;
    while (!signal.aborted) {
      let wait = this.o.pollIntervalMs;
      try {
        const r = await this.runOnce();
        dbFailures = 0;
        if (r.retryInMs !== undefined) wait = r.retryInMs;
        else if (r.claimed === this.o.batchSize) wait = 0;
      } catch (err) {
        dbFailures++;
        wait = backoffDelay(dbFailures, this.o.retryBaseMs, this.o.retryMaxMs);
        this.o.logger.error({ err, retryInMs: wait }, 'outbox relay batch failed');
      }
      this.housekeeping();
      if (wait > 0) await sleep(wait, signal);
    }
    await this.background;
  }

  /** Status and pruning run beside the publish loop, one at a time, so a slow NATS or DELETE never stalls it. */
  private housekeeping(): void {
    if (this.backgroundBusy) return;
    const now = Date.now();
    const tasks: Array<Promise<unknown>> = [];
    if (now - this.lastStatusAt >= this.o.statusIntervalMs) {
      this.lastStatusAt = now;
      tasks.push(this.refreshStatus().catch((err) => this.o.logger.warn({ err }, 'could not read outbox status')));
    }
    if (now - this.lastPruneAt >= this.o.pruneIntervalMs) {
      this.lastPruneAt = now;
      tasks.push(
        this.prune()
          .then((n) => n > 0 && this.o.logger.info({ deleted: n }, 'pruned published outbox rows'))
          .catch((err) => this.o.logger.warn({ err }, 'could not prune the outbox')),
      );
    }
    if (tasks.length === 0) return;
    this.backgroundBusy = true;
    this.background = Promise.all(tasks).then(() => {
      this.backgroundBusy = false;
    });
  }
}
