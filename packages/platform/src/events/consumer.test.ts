import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestEnv, eventually, TEST_NATS_URL, type TestEnv } from '@nova/testing';
import { createServicePool, type ServicePool } from '../db/pool.js';
import { createEventTables } from '../db/event-tables.js';
import { newId } from '../ids/index.js';
import { createLogger } from '../logging/logger.js';
import { createMetrics, type PlatformMetrics } from '../metrics/metrics.js';
import { EventConsumer, UnprocessableEventError, type ConsumerOptions, type EventMeta } from './consumer.js';
import type { EventEnvelope } from './envelope.js';
import { connectNats, ensureStreams, type NatsHandle } from './nats.js';
import { dlqSubject, eventFilter, eventSubject, replaySubject, streamNames } from './naming.js';

const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const SCHEMA = 'consumer_t';
const SERVICE = 'feed';

let env: TestEnv;
let nats: NatsHandle;
let pool: ServicePool;
let metrics: PlatformMetrics;
let prefix: string;
const consumers: EventConsumer[] = [];

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const data = await metrics.registry.getSingleMetric(name)!.get();
  return data.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? 0;
}

function envelope(data: unknown = {}): EventEnvelope {
  return { id: newId(), type: 'PostCreated', version: 1, source: 'content', subject: 'post/1', occurred_at: new Date().toISOString(), correlation_id: null, data };
}

/** The effect every test handler applies; `n` would reach 2 if an event were applied twice. */
async function applyEffect(tx: Parameters<ConsumerOptions['handler']>[0], event: EventEnvelope): Promise<void> {
  await sql`INSERT INTO consumer_t.effects (event_id, n) VALUES (${event.id}, 1) ON CONFLICT (event_id) DO UPDATE SET n = effects.n + 1`.execute(tx);
}

async function effectCount(id: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT n FROM consumer_t.effects WHERE event_id = ${id}`.execute(pool.raw);
  return rows[0]?.n ?? 0;
}

/** Starts a consumer on its own aggregate, so each test sees only its own events. */
async function startConsumer(purpose: string, aggregate: string, opts: Partial<ConsumerOptions> = {}): Promise<EventConsumer> {
  const c = new EventConsumer({
    service: SERVICE,
    purpose,
    schema: SCHEMA,
    prefix,
    db: pool.raw,
    js: nats.js,
    jsm: nats.jsm,
    metrics,
    logger,
    filterSubject: eventFilter(prefix, 'content', aggregate),
    retryBaseMs: 20,
    retryMaxMs: 100,
    handler: applyEffect,
    ...opts,
  });
  consumers.push(c);
  await c.start();
  return c;
}

async function publish(aggregate: string, payload: EventEnvelope | string): Promise<void> {
  await nats.js.publish(eventSubject(prefix, 'content', aggregate, 'created'), typeof payload === 'string' ? payload : JSON.stringify(payload));
}

async function deadLetters(consumer: string) {
  const stream = streamNames(prefix).dlq;
  const info = await nats.jsm.streams.info(stream);
  const out = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await nats.jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m?.subject === dlqSubject(prefix, consumer)) out.push(m);
  }
  return out;
}

beforeAll(async () => {
  env = await createTestEnv();
  prefix = env.natsPrefix;
  metrics = createMetrics({ defaultMetrics: false });
  nats = await connectNats({ servers: TEST_NATS_URL, name: 'consumer-test', logger });
  await ensureStreams(nats.jsm, prefix);
  pool = createServicePool({ service: SERVICE, schema: SCHEMA, connectionString: env.databaseUrl, max: 10, acquireTimeoutMs: 5_000, statementTimeoutMs: 0, metrics, logger });
  await sql`CREATE SCHEMA consumer_t`.execute(pool.raw);
  await createEventTables(pool.raw, SCHEMA);
  await sql`CREATE TABLE consumer_t.effects (event_id uuid PRIMARY KEY, n int NOT NULL)`.execute(pool.raw);
});

afterAll(async () => {
  await Promise.all(consumers.map((c) => c.stop()));
  await pool?.close();
  await nats?.close();
  await env?.cleanup();
});

describe('event consumer', () => {
  it('applies an event delivered twice only once (handled_events)', async () => {
    await startConsumer('dedupe', 'dup');
    const e = envelope();
    // Two separate messages (no shared msgID), as a re-published event past the duplicate window would be.
    await publish('dup', e);
    await publish('dup', e);
    await eventually(async () => (await metricValue('events_consumed_total', { consumer: 'feed-dedupe', outcome: 'duplicate' })) === 1, 'the duplicate');
    expect(await metricValue('events_consumed_total', { consumer: 'feed-dedupe', outcome: 'handled' })).toBe(1);
    expect(await effectCount(e.id)).toBe(1);
    const { rows } = await sql`SELECT 1 FROM consumer_t.handled_events WHERE consumer = 'feed-dedupe' AND event_id = ${e.id}`.execute(pool.raw);
    expect(rows).toHaveLength(1);
  });

  it('dead-letters a poison event after exactly maxDeliver attempts while others keep flowing', async () => {
    const poison = envelope({ poison: true });
    const attempts: number[] = [];
    await startConsumer('poison', 'poison', {
      maxDeliver: 3,
      handler: async (tx, event, meta: EventMeta) => {
        if (event.id === poison.id) {
          attempts.push(meta.deliveryCount);
          await applyEffect(tx, event); // rolled back with the failure
          throw new Error('cannot render\r\npost');
        }
        await applyEffect(tx, event);
      },
    });
    const before = envelope();
    const after = [envelope(), envelope()];
    await publish('poison', before);
    await publish('poison', poison);
    for (const e of after) await publish('poison', e);

    await eventually(async () => (await deadLetters('feed-poison')).length === 1, 'the dead letter');
    for (const e of [before, ...after]) expect(await effectCount(e.id)).toBe(1);
    const [dl] = await deadLetters('feed-poison');
    expect(dl!.json<EventEnvelope>()).toEqual(poison);
    expect(dl!.header.get('Nova-Consumer')).toBe('feed-poison');
    expect(dl!.header.get('Nova-Original-Subject')).toBe(eventSubject(prefix, 'content', 'poison', 'created'));
    expect(dl!.header.get('Nova-Error')).toBe('cannot render post');
    expect(dl!.header.get('Nova-Attempts')).toBe('3');
    expect(dl!.header.get('Nova-Event-Id')).toBe(poison.id);
    expect(Date.parse(dl!.header.get('Nova-Failed-At'))).not.toBeNaN();

    // Terminated, not redelivered: the handler ran exactly three times and nothing of it was kept.
    await new Promise((r) => setTimeout(r, 300));
    expect(attempts).toEqual([1, 2, 3]);
    expect(await effectCount(poison.id)).toBe(0);
    expect(await metricValue('events_dead_lettered_total', { consumer: 'feed-poison' })).toBe(1);
    expect(await metricValue('events_consumed_total', { consumer: 'feed-poison', outcome: 'failed' })).toBe(2);
    expect(await metricValue('events_consumed_total', { consumer: 'feed-poison', outcome: 'handled' })).toBe(3);
    const info = await nats.jsm.consumers.info(streamNames(prefix).events, 'feed-poison');
    expect(info.num_ack_pending + info.num_pending).toBe(0);
  });

  it('dead-letters at once when the handler declares an event unprocessable', async () => {
    let calls = 0;
    await startConsumer('picky', 'picky', {
      handler: () => {
        calls++;
        throw new UnprocessableEventError('post belongs to a deleted account');
      },
    });
    const e = envelope();
    await publish('picky', e);
    await eventually(async () => (await deadLetters('feed-picky')).length === 1, 'the dead letter');
    const [dl] = await deadLetters('feed-picky');
    expect(dl!.header.get('Nova-Attempts')).toBe('1');
    expect(dl!.header.get('Nova-Error')).toBe('post belongs to a deleted account');
    expect(calls).toBe(1);
  });

  it('sends malformed payloads straight to the dead-letter stream', async () => {
    let calls = 0;
    await startConsumer('strict', 'strict', {
      handler: async (tx, event) => {
        calls++;
        await applyEffect(tx, event);
      },
    });
    await publish('strict', 'this is not json');
    await publish('strict', JSON.stringify({ ...envelope(), id: 'not-a-uuid' }));
    const good = envelope();
    await publish('strict', good);

    await eventually(async () => (await deadLetters('feed-strict')).length === 2, 'two dead letters');
    await eventually(async () => (await effectCount(good.id)) === 1, 'the good event');
    expect(calls).toBe(1);
    const [notJson, badId] = await deadLetters('feed-strict');
    expect(notJson!.string()).toBe('this is not json');
    expect(notJson!.header.get('Nova-Error')).toBe('malformed envelope: payload is not valid UTF-8 JSON');
    expect(notJson!.header.get('Nova-Attempts')).toBe('1');
    expect(notJson!.header.has('Nova-Event-Id')).toBe(false);
    expect(badId!.header.get('Nova-Error')).toBe('malformed envelope: id must be a UUID');
  });

  it('handles events re-driven on its replay subject, skipping those it already applied', async () => {
    const seen: Array<{ id: string; replay: boolean }> = [];
    await startConsumer('replayer', 'replayed', {
      handler: async (tx, event, meta) => {
        seen.push({ id: event.id, replay: meta.replay });
        await applyEffect(tx, event);
      },
    });
    const applied = envelope();
    const missed = envelope();
    await publish('replayed', applied);
    await eventually(async () => (await effectCount(applied.id)) === 1, 'the live event');

    const original = eventSubject(prefix, 'content', 'replayed', 'created');
    const redrive = (e: EventEnvelope, consumer: string) => nats.js.publish(replaySubject(prefix, consumer, original), JSON.stringify(e));
    await redrive(applied, 'feed-replayer');
    await redrive(missed, 'feed-replayer');
    const foreign = envelope();
    await redrive(foreign, 'feed-other');

    await eventually(async () => (await effectCount(missed.id)) === 1, 'the replayed event');
    await eventually(async () => (await metricValue('events_consumed_total', { consumer: 'feed-replayer', outcome: 'duplicate' })) === 1, 'the skipped replay');
    expect(await effectCount(applied.id)).toBe(1);
    expect(await effectCount(foreign.id)).toBe(0);
    expect(seen).toEqual([
      { id: applied.id, replay: false },
      { id: missed.id, replay: true },
    ]);
  });

  it('stops cleanly and resumes from where it left off on restart', async () => {
    const c = await startConsumer('restart', 'restart');
    const first = envelope();
    await publish('restart', first);
    await eventually(async () => (await effectCount(first.id)) === 1, 'the first event');
    await c.stop();
    const second = envelope();
    await publish('restart', second);
    await new Promise((r) => setTimeout(r, 200));
    expect(await effectCount(second.id)).toBe(0);
    await startConsumer('restart', 'restart');
    await eventually(async () => (await effectCount(second.id)) === 1, 'the event published while stopped');
    expect(await effectCount(first.id)).toBe(1);
  });

  it('with concurrency, handles events about different entities at once and those about one entity in order', async () => {
    let active = 0;
    let peak = 0;
    const seen = new Map<string, number[]>();
    const handler: ConsumerOptions['handler'] = async (tx, event) => {
      active += 1;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 30));
      const d = event.data as { n: number };
      seen.set(event.subject, [...(seen.get(event.subject) ?? []), d.n]);
      await applyEffect(tx, event);
      active -= 1;
    };
    await startConsumer('parallel', 'parallel', { concurrency: 4, handler });
    const events: EventEnvelope[] = [];
    for (let n = 0; n < 5; n += 1) {
      for (const entity of ['post/a', 'post/b', 'post/c', 'post/d']) events.push({ ...envelope({ n }), subject: entity });
    }
    for (const e of events) await publish('parallel', e);
    await eventually(async () => (await Promise.all(events.map((e) => effectCount(e.id)))).every((n) => n === 1), 'every event applied once');
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(4);
    for (const entity of ['post/a', 'post/b', 'post/c', 'post/d']) expect(seen.get(entity)).toEqual([0, 1, 2, 3, 4]);
  });

  it('handles one event at a time by default', async () => {
    let active = 0;
    let peak = 0;
    const handler: ConsumerOptions['handler'] = async (tx, event) => {
      active += 1;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 10));
      await applyEffect(tx, event);
      active -= 1;
    };
    await startConsumer('serial', 'serial', { handler });
    const events = Array.from({ length: 6 }, (_, n) => ({ ...envelope({ n }), subject: `post/${n}` }));
    for (const e of events) await publish('serial', e);
    await eventually(async () => (await Promise.all(events.map((e) => effectCount(e.id)))).every((n) => n === 1), 'every event applied');
    expect(peak).toBe(1);
  });
});
