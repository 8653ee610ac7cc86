import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventFilter, eventSubject, newId, runServices, sql, type EventEnvelope, type RunningPlatform } from '@nova/platform';
import { createTestEnv, eventually, type TestEnv } from '@nova/testing';
import { eventsService } from '../src/index.js';
import { ADMIN_TOKEN, adminApi, emit, metricValue, producer } from './support.js';

let env: TestEnv;
let platform: RunningPlatform;

/** The flaky projection: fails while `broken`, and counts how often each event was applied. */
const flaky = { broken: true, applied: new Map<string, number>() };
const auth = producer((deps) => {
  deps.consumer({
    purpose: 'flaky',
    filterSubject: eventFilter(deps.platform.NATS_SUBJECT_PREFIX, 'auth', 'account'),
    maxDeliver: 2,
    retryBaseMs: 50,
    retryMaxMs: 200,
    handler: (_tx, event) => {
      if (flaky.broken) throw new Error('projection store unavailable');
      flaky.applied.set(event.id, (flaky.applied.get(event.id) ?? 0) + 1);
    },
  });
});
const api = adminApi(() => platform);

interface DeadLetterView {
  seq: number;
  consumer: string | null;
  original_subject: string | null;
  error: string | null;
  attempts: number | null;
  failed_at: string | null;
  event_id: string | null;
  event: unknown;
}

const deadLettered = (consumer: string) => metricValue(platform, 'events_dead_lettered_total', { consumer });

async function deadLetters(query = ''): Promise<{ dead_letters: DeadLetterView[]; next_cursor: string | null }> {
  const res = await api('GET', `/api/v1/events/dead-letters${query}`);
  expect(res.status).toBe(200);
  return res.body;
}

async function handledRows(consumer: string, eventId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM auth.handled_events WHERE consumer = ${consumer} AND event_id = ${eventId}`.execute(auth.deps().rawDb);
  return rows[0]!.n;
}

beforeAll(async () => {
  env = await createTestEnv();
  platform = await runServices({ services: [eventsService, auth.module], env: env.env({ EVENTS_ADMIN_TOKEN: ADMIN_TOKEN }) });
});

afterAll(async () => {
  await platform?.stop();
  await env?.cleanup();
});

describe('dead letters', () => {
  let failed: EventEnvelope[] = [];
  let seqs: number[] = [];

  it('lists the events a consumer gave up on, with the consumer, error and attempts', async () => {
    const before = Date.now();
    failed = await emit(auth.deps(), [
      { aggregate: 'account', action: 'suspended', type: 'AccountSuspended', entityId: 'a-1', data: { reason: 'spam' } },
      { aggregate: 'account', action: 'suspended', type: 'AccountSuspended', entityId: 'a-2', data: { reason: 'abuse' } },
    ]);
    await eventually(async () => (await deadLettered('auth-flaky')) === 2, 'both events to be dead-lettered', 30_000);

    const page = await deadLetters('?consumer=auth-flaky');
    expect(page.next_cursor).toBeNull();
    expect(page.dead_letters).toHaveLength(2);
    // In the order they failed (retries are jittered, so not necessarily the order they were emitted), each
    // with what an operator needs to decide between re-drive and discard.
    expect(page.dead_letters.map((dl) => dl.event_id).sort()).toEqual(failed.map((e) => e.id).sort());
    failed.sort((a, b) => page.dead_letters.findIndex((dl) => dl.event_id === a.id) - page.dead_letters.findIndex((dl) => dl.event_id === b.id));
    page.dead_letters.forEach((dl, i) => {
      const event = failed[i]!;
      expect(dl).toMatchObject({
        consumer: 'auth-flaky',
        original_subject: eventSubject(env.natsPrefix, 'auth', 'account', 'suspended'),
        error: 'projection store unavailable',
        attempts: 2,
        event_id: event.id,
        event,
      });
      expect(Date.parse(dl.failed_at!)).toBeGreaterThanOrEqual(before - 1_000);
    });
    seqs = page.dead_letters.map((dl) => dl.seq);
    expect(seqs[0]).toBeLessThan(seqs[1]!);
    expect(flaky.applied.size).toBe(0);

    // The archive handled the same events without trouble: nothing of its own is dead.
    expect((await deadLetters('?consumer=events-archive')).dead_letters).toEqual([]);
    expect((await deadLetters()).dead_letters.map((dl) => dl.seq)).toEqual(seqs);
  });

  it('pages through dead letters with a cursor', async () => {
    const first = await deadLetters('?consumer=auth-flaky&limit=1');
    expect(first.dead_letters.map((dl) => dl.seq)).toEqual([seqs[0]]);
    expect(first.next_cursor).toBe(String(seqs[0]));
    const second = await deadLetters(`?consumer=auth-flaky&limit=1&cursor=${first.next_cursor}`);
    expect(second.dead_letters.map((dl) => dl.seq)).toEqual([seqs[1]]);
    const third = await deadLetters(`?consumer=auth-flaky&limit=1&cursor=${second.next_cursor}`);
    expect(third).toEqual({ dead_letters: [], next_cursor: null });
  });

  it('re-drives a dead letter once the consumer is fixed: applied exactly once, and gone from the list', async () => {
    flaky.broken = false;
    const event = failed[0]!;
    const archiveDuplicates = await metricValue(platform, 'events_consumed_total', { consumer: 'events-archive', outcome: 'duplicate' });

    const res = await api('POST', `/api/v1/events/dead-letters/${seqs[0]}/redrive`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ seq: seqs[0], event_id: event.id, subject: eventSubject(env.natsPrefix, 'auth', 'account', 'suspended') });

    await eventually(() => flaky.applied.get(event.id) === 1, 'the re-driven event to be applied', 20_000);
    // Every consumer of the subject receives the re-drive; the archive, which already had it, skips it.
    await eventually(
      async () => (await metricValue(platform, 'events_consumed_total', { consumer: 'events-archive', outcome: 'duplicate' })) >= archiveDuplicates + 1,
      'the archive to skip the re-driven event',
      20_000,
    );
    expect(flaky.applied.get(event.id)).toBe(1);
    expect(await handledRows('auth-flaky', event.id)).toBe(1);
    expect((await api('GET', `/api/v1/events?subject=${encodeURIComponent(event.subject)}`)).body.events.map((e: { id: string }) => e.id)).toEqual([event.id]);
    expect((await deadLetters('?consumer=auth-flaky')).dead_letters.map((dl) => dl.seq)).toEqual([seqs[1]]);

    // Re-driving the same dead letter again is refused: it is no longer there.
    const again = await api('POST', `/api/v1/events/dead-letters/${seqs[0]}/redrive`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('NOT_FOUND');
  });

  it('discards a dead letter for good', async () => {
    const event = failed[1]!;
    const res = await api('DELETE', `/api/v1/events/dead-letters/${seqs[1]}`);
    expect(res.status).toBe(204);
    expect(await deadLetters('?consumer=auth-flaky')).toEqual({ dead_letters: [], next_cursor: null });
    expect((await api('DELETE', `/api/v1/events/dead-letters/${seqs[1]}`)).status).toBe(404);
    const redrive = await api('POST', `/api/v1/events/dead-letters/${seqs[1]}/redrive`);
    expect(redrive.status).toBe(404);
    expect(flaky.applied.has(event.id)).toBe(false);
    expect(await handledRows('auth-flaky', event.id)).toBe(0);
  });

  it('answers 404 for an unknown sequence and 400 for one that is not a sequence', async () => {
    const unknown = await api('POST', '/api/v1/events/dead-letters/999999/redrive');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'NOT_FOUND', message: 'dead letter 999999 not found' });
    expect((await api('DELETE', '/api/v1/events/dead-letters/999999')).status).toBe(404);
    for (const seq of ['0', 'abc', '-1']) {
      const res = await api('POST', `/api/v1/events/dead-letters/${seq}/redrive`);
      expect(res.status, seq).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    expect((await api('GET', '/api/v1/events/dead-letters?consumer=a.b')).status).toBe(400);
  });

  it('shows a malformed message as text, refuses to re-drive it, and lets it be discarded', async () => {
    const archiveBefore = await deadLettered('events-archive');
    const flakyBefore = await deadLettered('auth-flaky');
    await auth.deps().nats.js.publish(eventSubject(env.natsPrefix, 'auth', 'account', 'suspended'), 'this is not json', { msgID: newId() });
    await eventually(
      async () => (await deadLettered('auth-flaky')) === flakyBefore + 1 && (await deadLettered('events-archive')) === archiveBefore + 1,
      'both consumers to dead-letter the malformed message at once',
      20_000,
    );
    const [dl] = (await deadLetters('?consumer=auth-flaky')).dead_letters;
    expect(dl).toMatchObject({ consumer: 'auth-flaky', event: 'this is not json', event_id: null, attempts: 1 });
    expect(dl!.error).toMatch(/^malformed envelope: /);

    const redrive = await api('POST', `/api/v1/events/dead-letters/${dl!.seq}/redrive`);
    expect(redrive.status).toBe(412);
    expect(redrive.body.error.code).toBe('PRECONDITION_FAILED');

    expect((await api('DELETE', `/api/v1/events/dead-letters/${dl!.seq}`)).status).toBe(204);
    expect((await deadLetters('?consumer=auth-flaky')).dead_letters).toEqual([]);
    expect((await deadLetters('?consumer=events-archive')).dead_letters).toHaveLength(1);
  });
});
