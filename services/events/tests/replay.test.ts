import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventFilter, isUuid, replaySubject, runServices, sql, streamNames, type EventConsumer, type EventEnvelope, type EventMeta, type RunningPlatform } from '@nova/platform';
import { createTestEnv, eventually, type TestEnv } from '@nova/testing';
import { eventsService } from '../src/index.js';
import { ADMIN_TOKEN, adminApi, archivedCount, emit, metricValue, producer, tick } from './support.js';

const REPLAY_MAX = 10;

let env: TestEnv;
let platform: RunningPlatform;

/** A projection per consumer: how often each event was applied, and how it arrived. */
class Projection {
  readonly applied = new Map<string, number>();
  readonly deliveries: Array<{ id: string; type: string; replay: boolean; subject: string }> = [];
  apply = (event: EventEnvelope, meta: EventMeta) => {
    this.applied.set(event.id, (this.applied.get(event.id) ?? 0) + 1);
    this.deliveries.push({ id: event.id, type: event.type, replay: meta.replay, subject: meta.subject });
  };
  has(ids: string[]): boolean {
    return ids.every((id) => this.applied.get(id) === 1);
  }
  reset(): void {
    this.applied.clear();
    this.deliveries.length = 0;
  }
}

const ledger = new Projection();
const late = new Projection();
let lateConsumer: EventConsumer | undefined;

const auth = producer((deps) => {
  deps.consumer({
    purpose: 'ledger',
    filterSubject: eventFilter(deps.platform.NATS_SUBJECT_PREFIX, 'auth', 'ledger'),
    handler: (_tx, event, meta) => ledger.apply(event, meta),
  });
});
const api = adminApi(() => platform);

type Spec = Parameters<typeof emit>[1][number];
const ledgerEvent = (entityId: string, type = 'LedgerEntryAdded'): Spec => ({ aggregate: 'ledger', action: 'added', type, entityId, data: { entityId } });

/** Emits, waits until archived, and returns the events with a [from, to) window that holds exactly them. */
async function emitWindow(events: Spec[]): Promise<{ events: EventEnvelope[]; from: string; to: string }> {
  await tick(5);
  const from = new Date().toISOString();
  await tick(5);
  const out = await emit(auth.deps(), events);
  await eventually(async () => (await archivedCount(auth.deps(), out.map((e) => e.id))) === out.length, 'the events in the archive', 20_000);
  await tick(5);
  const to = new Date().toISOString();
  await tick(5);
  return { events: out, from, to };
}

const replayStreamMessages = async () => (await auth.deps().nats.jsm.streams.info(streamNames(env.natsPrefix).replay)).state.messages;
const duplicates = (consumer: string) => metricValue(platform, 'events_consumed_total', { consumer, outcome: 'duplicate' });

beforeAll(async () => {
  env = await createTestEnv();
  platform = await runServices({
    services: [eventsService, auth.module],
    env: env.env({ EVENTS_ADMIN_TOKEN: ADMIN_TOKEN, EVENTS_REPLAY_MAX: String(REPLAY_MAX) }),
  });
});

afterAll(async () => {
  await lateConsumer?.stop();
  await platform?.stop();
  await env?.cleanup();
});

describe('replay', () => {
  it('re-delivers a time range to a consumer whose projection was rebuilt, and only the events it subscribes to', async () => {
    const window = await emitWindow([
      ledgerEvent('l-1'),
      { aggregate: 'profile', action: 'updated', type: 'ProfileUpdated', entityId: 'p-1', data: {} },
      ledgerEvent('l-2'),
      ledgerEvent('l-3', 'LedgerEntryVoided'),
    ]);
    const ledgerIds = window.events.filter((e) => e.type.startsWith('Ledger')).map((e) => e.id);
    await eventually(() => ledger.has(ledgerIds), 'the ledger to apply its events live', 20_000);

    // The projection is rebuilt from scratch: its data and its handled-events bookkeeping are gone.
    ledger.reset();
    await sql`DELETE FROM auth.handled_events WHERE consumer = 'auth-ledger'`.execute(auth.deps().rawDb);

    const res = await api('POST', '/api/v1/events/replay', { body: { consumer: 'auth-ledger', from: window.from, to: window.to } });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ consumer: 'auth-ledger', published: 3 });
    expect(isUuid(res.body.replay_id)).toBe(true);

    await eventually(() => ledger.has(ledgerIds), 'the replayed events to be applied', 20_000);
    expect(ledger.deliveries.map((d) => d.id).sort()).toEqual([...ledgerIds].sort());
    for (const d of ledger.deliveries) {
      expect(d.replay).toBe(true);
      expect(d.subject).toBe(replaySubject(env.natsPrefix, 'auth-ledger', `${env.natsPrefix}.auth.ledger.added`));
    }
  });

  it('is safe to repeat: events the consumer already handled are skipped', async () => {
    const window = await emitWindow([ledgerEvent('r-1'), ledgerEvent('r-2')]);
    const ids = window.events.map((e) => e.id);
    await eventually(() => ledger.has(ids), 'the ledger to apply its events live', 20_000);
    const before = await duplicates('auth-ledger');

    for (let i = 0; i < 2; i++) {
      const res = await api('POST', '/api/v1/events/replay', { body: { consumer: 'auth-ledger', from: window.from, to: window.to } });
      expect(res.status).toBe(202);
      expect(res.body.published).toBe(2);
    }
    await eventually(async () => (await duplicates('auth-ledger')) === before + 4, 'the consumer to skip all four replayed copies', 20_000);
    expect(ids.map((id) => ledger.applied.get(id))).toEqual([1, 1]);
  });

  it('fills in what a consumer created later (delivering only new events) missed', async () => {
    const missed = await emitWindow([ledgerEvent('m-1'), ledgerEvent('m-2')]);
    await eventually(() => ledger.has(missed.events.map((e) => e.id)), 'the ledger to apply its events live', 20_000);

    lateConsumer = auth.deps().consumer({
      purpose: 'late',
      filterSubject: eventFilter(env.natsPrefix, 'auth', 'ledger'),
      deliverPolicy: 'new',
      handler: (_tx, event, meta) => late.apply(event, meta),
    });
    await lateConsumer.start();
    const [live] = await emit(auth.deps(), [ledgerEvent('m-3')]);
    await eventually(() => late.has([live!.id]), 'the late consumer to apply a new event', 20_000);
    await tick(5);
    const to = new Date().toISOString();
    expect(late.deliveries.map((d) => d.id)).toEqual([live!.id]);

    const res = await api('POST', '/api/v1/events/replay', { body: { consumer: 'auth-late', from: missed.from, to } });
    expect(res.status).toBe(202);
    expect(res.body.published).toBe(3);
    const all = [...missed.events.map((e) => e.id), live!.id];
    await eventually(async () => late.has(all) && (await duplicates('auth-late')) === 1, 'the late consumer to catch up', 20_000);
    const [first, ...replayed] = late.deliveries;
    expect(first).toMatchObject({ id: live!.id, replay: false });
    expect(replayed.map((d) => [d.id, d.replay]).sort()).toEqual(missed.events.map((e) => [e.id, true]).sort());
  });

  it('narrows a replay by type and source', async () => {
    const window = await emitWindow([ledgerEvent('t-1', 'LedgerEntryAdded'), ledgerEvent('t-2', 'LedgerEntryVoided'), ledgerEvent('t-3', 'LedgerEntryVoided')]);
    const replay = (extra: Record<string, string>) => api('POST', '/api/v1/events/replay', { body: { consumer: 'auth-ledger', from: window.from, to: window.to, ...extra } });
    expect((await replay({ type: 'LedgerEntryVoided' })).body.published).toBe(2);
    expect((await replay({ type: 'LedgerEntryVoided', source: 'content' })).body.published).toBe(0);
    expect((await replay({ source: 'auth' })).body.published).toBe(3);

    // The archive subscribes to every subject (`<prefix>.>`), so it is offered everything in the window, and skips it all.
    const before = await duplicates('events-archive');
    const toArchive = await api('POST', '/api/v1/events/replay', { body: { consumer: 'events-archive', from: window.from, to: window.to } });
    expect(toArchive.status).toBe(202);
    expect(toArchive.body.published).toBe(3);
    await eventually(async () => (await duplicates('events-archive')) === before + 3, 'the archive to skip the replayed events', 20_000);
  });

  it('refuses a replay to a consumer nobody runs with 404', async () => {
    const res = await api('POST', '/api/v1/events/replay', { body: { consumer: 'auth-nobody', from: '2024-01-01T00:00:00Z', to: '2024-01-02T00:00:00Z' } });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'NOT_FOUND', message: 'no consumer named auth-nobody is listening for replays' });
  });

  it('refuses a bad request with 400 VALIDATION_FAILED', async () => {
    const bodies: Array<Record<string, unknown>> = [
      { consumer: 'auth-ledger', from: '2024-01-02T00:00:00Z', to: '2024-01-01T00:00:00Z' },
      { consumer: 'auth-ledger', from: '2024-01-01T00:00:00Z', to: '2024-01-01T00:00:00Z' },
      { consumer: 'auth-ledger', from: 'last week', to: '2024-01-01T00:00:00Z' },
      { consumer: 'auth-ledger', from: '2024-01-01T00:00:00Z' },
      { consumer: 'ledger', from: '2024-01-01T00:00:00Z', to: '2024-01-02T00:00:00Z' },
      { consumer: 'auth-ledger', from: '2024-01-01T00:00:00Z', to: '2024-01-02T00:00:00Z', everything: true },
    ];
    for (const body of bodies) {
      const res = await api('POST', '/api/v1/events/replay', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    const reversed = await api('POST', '/api/v1/events/replay', { body: bodies[0] });
    expect(reversed.body.error.message).toBe('from must be before to');
  });

  it(`refuses a range holding more than EVENTS_REPLAY_MAX (${REPLAY_MAX}) events, and publishes nothing`, async () => {
    const window = await emitWindow(Array.from({ length: REPLAY_MAX + 1 }, (_, i) => ledgerEvent(`b-${i}`)));
    const ids = window.events.map((e) => e.id);
    await eventually(() => ledger.has(ids), 'the ledger to apply its events live', 20_000);
    const stored = await replayStreamMessages();

    const res = await api('POST', '/api/v1/events/replay', { body: { consumer: 'auth-ledger', from: window.from, to: window.to } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { events: REPLAY_MAX + 1, max: REPLAY_MAX } });
    expect(res.body.error.message).toContain('narrow it');

    // Refused before anything was published: the replay stream holds no more messages than before.
    expect(await replayStreamMessages()).toBe(stored);
  });
});
