import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { JetStreamClient } from '@nats-io/jetstream';
import { createTestEnv, eventually, TEST_NATS_URL, type TestEnv } from '@nova/testing';
import { createServicePool, type ServicePool } from '../db/pool.js';
import { createEventTables } from '../db/event-tables.js';
import { createLogger } from '../logging/logger.js';
import { createMetrics, type PlatformMetrics } from '../metrics/metrics.js';
import { EventConsumer } from './consumer.js';
import { connectNats, ensureStreams, type NatsHandle } from './nats.js';
import { eventFilter, eventSubject, streamNames } from './naming.js';
import { Outbox } from './outbox.js';
import { openOutboxStatusBucket, readOutboxStatuses } from './outbox-status.js';
import { OutboxRelay, type OutboxRelayOptions } from './relay.js';

const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const SCHEMA = 'relay_t';
const SERVICE = 'auth';

/** A TCP proxy in front of NATS that a test can take down and bring back on the same port. */
class NatsProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  async up(): Promise<void> {
    const target = new URL(TEST_NATS_URL);
    const server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 4222), target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => (s === client ? upstream : client).destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

let env: TestEnv;
let nats: NatsHandle;
let pool: ServicePool;
let metrics: PlatformMetrics;
let outbox: Outbox;
let consumer: EventConsumer;
let prefix: string;

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const data = await metrics.registry.getSingleMetric(name)!.get();
  return data.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? 0;
}

function relay(opts: Partial<OutboxRelayOptions> = {}): OutboxRelay {
  return new OutboxRelay({ service: SERVICE, schema: SCHEMA, prefix, db: pool.raw, js: nats.js, metrics, logger, pollIntervalMs: 20, ...opts });
}

/** Writes one event per committed transaction (the order a service would produce them). */
async function writeEvents(action: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const e = await pool.raw.transaction().execute((tx) => outbox.add(tx, { aggregate: 'user', action, type: 'UserRegistered', entityId: `u${i}`, data: { i } }));
    ids.push(e.id);
  }
  return ids;
}

/** Event ids stored in the events stream on `subject`, in stream order. */
async function streamIds(subject: string): Promise<string[]> {
  const stream = streamNames(prefix).events;
  const info = await nats.jsm.streams.info(stream);
  const ids: string[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await nats.jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m?.subject === subject) ids.push(m.json<{ id: string }>().id);
  }
  return ids;
}

async function effects(ids: string[]): Promise<Array<{ event_id: string; n: number }>> {
  const { rows } = await sql<{ event_id: string; n: number }>`SELECT event_id, n FROM relay_t.effects WHERE event_id = ANY(${ids}::uuid[]) ORDER BY seq`.execute(pool.raw);
  return rows;
}

async function outboxRows(ids: string[]) {
  const { rows } = await sql<{ id: string; published_at: Date | null; attempts: number; last_error: string | null }>`
    SELECT id, published_at, attempts, last_error FROM relay_t.outbox WHERE id = ANY(${ids}::uuid[]) ORDER BY created_at, id`.execute(pool.raw);
  return rows;
}

beforeAll(async () => {
  env = await createTestEnv();
  prefix = env.natsPrefix;
  metrics = createMetrics({ defaultMetrics: false });
  nats = await connectNats({ servers: TEST_NATS_URL, name: 'relay-test', logger });
  await ensureStreams(nats.jsm, prefix);
  pool = createServicePool({ service: SERVICE, schema: SCHEMA, connectionString: env.databaseUrl, max: 10, acquireTimeoutMs: 5_000, statementTimeoutMs: 0, metrics, logger });
  await sql`CREATE SCHEMA relay_t`.execute(pool.raw);
  await createEventTables(pool.raw, SCHEMA);
  // n counts applications: an event applied twice would show n = 2.
  await sql`CREATE TABLE relay_t.effects (event_id uuid PRIMARY KEY, n int NOT NULL, seq bigserial)`.execute(pool.raw);
  outbox = new Outbox({ service: SERVICE, schema: SCHEMA, prefix });
  consumer = new EventConsumer({
    service: SERVICE,
    purpose: 'projector',
    schema: SCHEMA,
    prefix,
    db: pool.raw,
    js: nats.js,
    jsm: nats.jsm,
    metrics,
    logger,
    filterSubject: eventFilter(prefix, SERVICE, 'user'),
    handler: async (tx, event) => {
      await sql`INSERT INTO relay_t.effects (event_id, n) VALUES (${event.id}, 1) ON CONFLICT (event_id) DO UPDATE SET n = effects.n + 1`.execute(tx);
    },
  });
  await consumer.start();
});

afterAll(async () => {
  await consumer?.stop();
  await pool?.close();
  await nats?.close();
  await env?.cleanup();
});

describe('outbox relay', () => {
  it('publishes committed events once and never those of a rolled-back transaction', async () => {
    await expect(
      pool.raw.transaction().execute(async (tx) => {
        await outbox.add(tx, { aggregate: 'user', action: 'created', type: 'UserCreated', entityId: 'ghost', data: {} });
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    const committed = await pool.raw.transaction().execute((tx) =>
      outbox.add(tx, { aggregate: 'user', action: 'created', type: 'UserCreated', entityId: '42', data: { name: 'Ada' }, correlationId: 'req-1' }),
    );
    expect(committed).toMatchObject({ type: 'UserCreated', version: 1, source: 'auth', subject: 'user/42', correlation_id: 'req-1', data: { name: 'Ada' } });

    expect(await relay().runOnce()).toEqual({ claimed: 1, published: 1 });
    await eventually(async () => (await effects([committed.id]))[0], 'the effect');
    expect(await effects([committed.id])).toEqual([{ event_id: committed.id, n: 1 }]);
    const subject = eventSubject(prefix, SERVICE, 'user', 'created');
    expect(await streamIds(subject)).toEqual([committed.id]);
    expect((await outboxRows([committed.id]))[0]?.published_at).toBeInstanceOf(Date);
  });

  it('re-publishes after a crash between publish and mark, and JetStream keeps the event once', async () => {
    const [id] = await writeEvents('crashed', 1);
    const dying = relay({
      afterPublish: () => {
        throw new Error('process killed');
      },
    });
    await expect(dying.runOnce()).rejects.toThrow('process killed');
    expect((await outboxRows([id!]))[0]).toMatchObject({ published_at: null, attempts: 0 });

    expect(await relay().runOnce()).toEqual({ claimed: 1, published: 1 });
    await eventually(async () => (await effects([id!]))[0], 'the effect');
    // Give a second copy the time it would need to arrive, then check there was none.
    await new Promise((r) => setTimeout(r, 300));
    expect(await streamIds(eventSubject(prefix, SERVICE, 'user', 'crashed'))).toEqual([id]);
    expect(await effects([id!])).toEqual([{ event_id: id, n: 1 }]);
  });

  it('keeps events pending through a NATS outage and delivers all of them once, in order', async () => {
    const proxy = new NatsProxy();
    await proxy.up();
    const flaky = await connectNats({ servers: `127.0.0.1:${proxy.port}`, name: 'relay-outage', logger, requestTimeoutMs: 500 });
    const r = relay({ js: flaky.js, publishTimeoutMs: 500, retryBaseMs: 50, retryMaxMs: 300, statusIntervalMs: 50 });
    const failuresBefore = await metricValue('outbox_publish_failures_total', { service: SERVICE });
    try {
      await proxy.down();
      const ids = await writeEvents('outage', 5);

      const result = await r.runOnce();
      expect(result).toMatchObject({ claimed: 5, published: 0 });
      expect(result.error).toBeTruthy();
      const pending = await outboxRows(ids);
      expect(pending.every((row) => row.published_at === null && row.attempts === 1 && row.last_error)).toBe(true);
      const status = await r.refreshStatus();
      expect(status.pending).toBe(5);
      expect(await metricValue('outbox_pending_events', { service: SERVICE })).toBe(5);
      expect(await metricValue('outbox_oldest_pending_age_seconds', { service: SERVICE })).toBeGreaterThan(0);
      expect(await metricValue('outbox_publish_failures_total', { service: SERVICE })).toBeGreaterThan(failuresBefore);

      r.start();
      await new Promise((res) => setTimeout(res, 700));
      expect((await outboxRows(ids)).every((row) => row.published_at === null)).toBe(true);

      await proxy.up();
      await eventually(async () => (await outboxRows(ids)).every((row) => row.published_at !== null), 'the backlog to be published', 15_000);
      await eventually(async () => (await effects(ids)).length === 5, 'every effect', 10_000);
      expect(await streamIds(eventSubject(prefix, SERVICE, 'user', 'outage'))).toEqual(ids);
      expect(await effects(ids)).toEqual(ids.map((id) => ({ event_id: id, n: 1 })));

      // The relay reports the drained backlog to the status bucket.
      await eventually(async () => (await r.refreshStatus()).pending === 0, 'status to show no backlog');
      const statuses = await readOutboxStatuses(await openOutboxStatusBucket(nats.js, prefix));
      expect(statuses.find((s) => s.service === SERVICE)).toMatchObject({ pending: 0, last_error: null });
      expect(await metricValue('outbox_pending_events', { service: SERVICE })).toBe(0);
    } finally {
      await r.stop();
      await flaky.close();
      await proxy.down();
    }
  });

  it('lets two relays run side by side and publishes every row exactly once', async () => {
    const ids = await writeEvents('concurrent', 60);
    const published: string[] = [];
    // Counts every publish call, so a row published twice (even if JetStream dropped the copy) fails the test.
    const countingJs = {
      ...nats.js,
      publish: (subject: string, payload?: unknown, opts?: { msgID?: string }) => {
        published.push(opts?.msgID ?? '?');
        return nats.js.publish(subject, payload as string, opts);
      },
    } as unknown as JetStreamClient;
    const drain = async (r: OutboxRelay) => {
      let total = 0;
      for (;;) {
        const res = await r.runOnce();
        total += res.published;
        if (res.claimed === 0) return total;
      }
    };
    const [a, b] = await Promise.all([drain(relay({ js: countingJs, batchSize: 5 })), drain(relay({ js: countingJs, batchSize: 5 }))]);
    expect(a + b).toBe(60);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    expect([...published].sort()).toEqual([...ids].sort());
    expect(new Set(await streamIds(eventSubject(prefix, SERVICE, 'user', 'concurrent')))).toEqual(new Set(ids));
    await eventually(async () => (await effects(ids)).length === 60, 'every effect');
    expect((await effects(ids)).every((e) => e.n === 1)).toBe(true);
  });

  it('prunes published rows older than the retention only', async () => {
    const [old, recent] = await writeEvents('pruned', 2);
    const r = relay();
    await r.runOnce();
    await sql`UPDATE relay_t.outbox SET published_at = now() - interval '8 days' WHERE id = ${old!}`.execute(pool.raw);
    expect(await r.prune()).toBe(1);
    expect((await outboxRows([old!, recent!])).map((row) => row.id)).toEqual([recent]);
  });
});
