import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, encodeCursor, eventSubject, newId, runServices, sql, type EventEnvelope, type GrpcClient, type RunningPlatform } from '@nova/platform';
import type { eventsV1 } from '@nova/proto';
import { createTestEnv, eventually, type TestEnv } from '@nova/testing';
import { eventsService } from '../src/index.js';
import { ADMIN_TOKEN, adminApi, type ApiResponse, archivedCount, emit, eventsClient, listRequest, metricValue, producer, tick } from './support.js';

let env: TestEnv;
let platform: RunningPlatform;
let grpc: GrpcClient<eventsV1.EventsServiceClient>;
const auth = producer();
const api = adminApi(() => platform);

/** The archive seen through the admin API: the envelope plus the NATS subject it travelled on. */
function asArchived(e: EventEnvelope, aggregate: string, action: string) {
  return { ...e, nats_subject: eventSubject(env.natsPrefix, e.source, aggregate, action) };
}

async function emitAndWait(events: Parameters<typeof emit>[1]): Promise<EventEnvelope[]> {
  const out = await emit(auth.deps(), events);
  const ids = out.map((e) => e.id);
  await eventually(async () => (await archivedCount(auth.deps(), ids)) === ids.length, `${ids.length} events in the archive`, 20_000);
  return out;
}

/** Publishes an envelope as another service would (straight to JetStream, bypassing any outbox). */
async function publishForeign(e: EventEnvelope, aggregate: string, action: string, msgID = e.id): Promise<void> {
  await auth.deps().nats.js.publish(eventSubject(env.natsPrefix, e.source, aggregate, action), JSON.stringify(e), { msgID });
}

function foreignEvent(over: Partial<EventEnvelope> = {}): EventEnvelope {
  return { id: newId(), type: 'PostCreated', version: 1, source: 'content', subject: `post/${newId()}`, occurred_at: new Date().toISOString(), correlation_id: null, data: { text: 'hello' }, ...over };
}

beforeAll(async () => {
  env = await createTestEnv();
  platform = await runServices({ services: [eventsService, auth.module], env: env.env({ EVENTS_ADMIN_TOKEN: ADMIN_TOKEN }) });
  grpc = eventsClient(platform);
});

afterAll(async () => {
  grpc?.close();
  await platform?.stop();
  await env?.cleanup();
});

describe('admin authentication', () => {
  it('refuses a request without a bearer token with 401 UNAUTHENTICATED', async () => {
    for (const authorization of [undefined, 'Basic dXNlcjpwYXNz', 'Bearer ']) {
      const res = await api('GET', '/api/v1/events', authorization === undefined ? { token: null } : { authorization });
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({ code: 'UNAUTHENTICATED' });
      expect(res.body.error.request_id).toBe(res.headers.get('x-request-id'));
    }
  });

  it('refuses a wrong token with 403 FORBIDDEN on every admin route, and leaves the platform routes open', async () => {
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/api/v1/events'],
      ['GET', `/api/v1/events/${newId()}`],
      ['GET', '/api/v1/events/catalogue'],
      ['GET', '/api/v1/events/outbox'],
      ['GET', '/api/v1/events/dead-letters'],
      ['POST', '/api/v1/events/dead-letters/1/redrive'],
      ['DELETE', '/api/v1/events/dead-letters/1'],
      ['POST', '/api/v1/events/replay', { consumer: 'auth-x', from: '2024-01-01T00:00:00Z', to: '2024-01-02T00:00:00Z' }],
    ];
    for (const [method, path, body] of routes) {
      for (const token of ['wrong-token', `${ADMIN_TOKEN}x`, 'test-admin-token-0123456789abcdefghijkl']) {
        const res = await api(method, path, { token, body });
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.body.error).toMatchObject({ code: 'FORBIDDEN' });
      }
    }
    expect((await api('GET', '/health', { token: null })).status).toBe(200);
    expect((await api('GET', '/ready', { token: null })).status).toBe(200);
  });

  it('accepts the scheme name in any case, and limits admins per IP with the public preset', async () => {
    const res = await api('GET', '/api/v1/events/catalogue', { authorization: `bearer ${ADMIN_TOKEN}` });
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-limit')).toBe('1000');
  });
});

describe('event archive', () => {
  it('archives an event written through another service outbox with its full envelope', async () => {
    const correlationId = `signup-${newId()}`;
    const [e] = await emitAndWait([
      { aggregate: 'user', action: 'registered', type: 'UserRegistered', entityId: 'u-100', correlationId, data: { username: 'ada', roles: ['member'], profile: { lang: 'en' } } },
    ]);
    const one = await api('GET', `/api/v1/events/${e!.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(asArchived(e!, 'user', 'registered'));
    expect(one.body).toMatchObject({ type: 'UserRegistered', version: 1, source: 'auth', subject: 'user/u-100', correlation_id: correlationId, nats_subject: `${env.natsPrefix}.auth.user.registered` });

    const list = await api('GET', `/api/v1/events?correlation_id=${correlationId}`);
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ events: [asArchived(e!, 'user', 'registered')], next_cursor: null });
  });

  it('lists newest first and filters by type, source, subject, correlation id and time range', async () => {
    const corr = `filters-${newId()}`;
    const batchA = await emitAndWait([
      { aggregate: 'user', action: 'registered', type: 'UserRegistered', entityId: 'f-1', correlationId: corr, data: { n: 1 } },
      { aggregate: 'user', action: 'renamed', type: 'UserRenamed', entityId: 'f-1', correlationId: corr, version: 2, data: { n: 2 } },
    ]);
    await tick(10);
    const middle = new Date();
    await tick(10);
    const batchB = await emitAndWait([{ aggregate: 'user', action: 'registered', type: 'UserRegistered', entityId: 'f-2', correlationId: corr, data: { n: 3 } }]);
    const foreign = foreignEvent({ correlation_id: corr });
    await publishForeign(foreign, 'post', 'created');
    await eventually(async () => (await archivedCount(auth.deps(), [foreign.id])) === 1, 'the foreign event in the archive', 20_000);
    await tick(10);
    const end = new Date();

    const ids = async (query: string) => {
      const res = await api('GET', `/api/v1/events?correlation_id=${corr}&${query}`);
      expect(res.status, query).toBe(200);
      return (res.body.events as Array<{ id: string }>).map((e) => e.id);
    };
    const [a1, a2] = batchA.map((e) => e.id);
    const [b1] = batchB.map((e) => e.id);

    expect(await ids('')).toEqual([foreign.id, b1, a2, a1]);
    expect(await ids('type=UserRegistered')).toEqual([b1, a1]);
    expect(await ids('source=content')).toEqual([foreign.id]);
    expect(await ids('source=auth&type=UserRenamed')).toEqual([a2]);
    expect(await ids('subject=user%2Ff-1')).toEqual([a2, a1]);
    expect(await ids(`from=${middle.toISOString()}`)).toEqual([foreign.id, b1]);
    expect(await ids(`to=${middle.toISOString()}`)).toEqual([a2, a1]);
    expect(await ids(`from=${middle.toISOString()}&to=${end.toISOString()}&source=auth`)).toEqual([b1]);
    expect(await ids('type=NoSuchType')).toEqual([]);

    const foreignView = (await api('GET', `/api/v1/events/${foreign.id}`)).body;
    expect(foreignView).toEqual({ ...foreign, nats_subject: `${env.natsPrefix}.content.post.created` });

    const bad = await api('GET', `/api/v1/events?from=${end.toISOString()}&to=${middle.toISOString()}`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: 'from must be before to' });
    expect((await api('GET', '/api/v1/events?from=yesterday')).body.error.code).toBe('VALIDATION_FAILED');
  });

  it('walks 25 events with limit 10 in three pages, without duplicates or gaps', async () => {
    const corr = `paging-${newId()}`;
    const emitted = await emitAndWait(
      Array.from({ length: 25 }, (_, i) => ({ aggregate: 'user', action: 'registered', type: 'UserRegistered', entityId: `p-${i}`, correlationId: corr, data: { i } })),
    );
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    do {
      const res: ApiResponse<{ events: Array<{ id: string }>; next_cursor: string | null }> = await api('GET', `/api/v1/events?correlation_id=${corr}&limit=10${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      pageSizes.push(res.body.events.length);
      seen.push(...res.body.events.map((e) => e.id));
      cursor = res.body.next_cursor;
    } while (cursor && pageSizes.length < 10);
    expect(pageSizes).toEqual([10, 10, 5]);
    expect(seen).toEqual(emitted.map((e) => e.id).reverse());
    expect(new Set(seen).size).toBe(25);
  });

  it('rejects a malformed or tampered cursor with 400 VALIDATION_FAILED', async () => {
    const tampered = [
      'not-a-cursor',
      encodeCursor(['2024-01-01T00:00:00.000Z']),
      encodeCursor(['yesterday', newId()]),
      encodeCursor(['2024-01-01T00:00:00.000Z', 'not-a-uuid']),
    ];
    for (const cursor of tampered) {
      const res = await api('GET', `/api/v1/events?cursor=${encodeURIComponent(cursor)}`);
      expect(res.status, cursor).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('answers 404 for an unknown event id and 400 for a malformed one', async () => {
    const unknown = await api('GET', `/api/v1/events/${newId()}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'NOT_FOUND', message: 'event not found' });
    const malformed = await api('GET', '/api/v1/events/not-a-uuid');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('archives a redelivered event once', async () => {
    const duplicatesBefore = await metricValue(platform, 'events_consumed_total', { consumer: 'events-archive', outcome: 'duplicate' });
    const e = foreignEvent({ type: 'PostLiked', subject: `post/${newId()}` });
    // Two messages with distinct message ids: what a re-publish after JetStream's duplicate window looks like.
    await publishForeign(e, 'post', 'liked', `${e.id}:1`);
    await publishForeign(e, 'post', 'liked', `${e.id}:2`);
    await eventually(
      async () => (await metricValue(platform, 'events_consumed_total', { consumer: 'events-archive', outcome: 'duplicate' })) >= duplicatesBefore + 1,
      'the archive consumer to skip the redelivery',
      20_000,
    );
    const res = await api('GET', `/api/v1/events?subject=${encodeURIComponent(e.subject)}`);
    expect(res.body.events).toEqual([{ ...e, nats_subject: `${env.natsPrefix}.content.post.liked` }]);
  });
});

describe('event catalogue', () => {
  it('lists each (type, source) with its volume, latest version and first/last sighting', async () => {
    const events = await emitAndWait([
      { aggregate: 'session', action: 'opened', type: 'CatalogueProbe', entityId: 's-1', data: {} },
      { aggregate: 'session', action: 'opened', type: 'CatalogueProbe', entityId: 's-2', version: 3, data: {} },
      { aggregate: 'session', action: 'opened', type: 'CatalogueProbe', entityId: 's-3', version: 2, data: {} },
    ]);
    const sameTypeElsewhere = foreignEvent({ type: 'CatalogueProbe', version: 7 });
    await publishForeign(sameTypeElsewhere, 'post', 'created');
    await eventually(async () => (await archivedCount(auth.deps(), [sameTypeElsewhere.id])) === 1, 'the foreign event in the archive', 20_000);

    const res = await api('GET', '/api/v1/events/catalogue');
    expect(res.status).toBe(200);
    const types = res.body.types as Array<{ type: string; source: string; latest_version: number; count: number; first_seen: string; last_seen: string }>;
    expect(types.filter((t) => t.type === 'CatalogueProbe')).toEqual([
      { type: 'CatalogueProbe', source: 'auth', latest_version: 3, count: 3, first_seen: events[0]!.occurred_at, last_seen: events[2]!.occurred_at },
      { type: 'CatalogueProbe', source: 'content', latest_version: 7, count: 1, first_seen: sameTypeElsewhere.occurred_at, last_seen: sameTypeElsewhere.occurred_at },
    ]);
    // Everything archived so far is accounted for, grouped once per (type, source), ordered by source then type.
    const registered = types.find((t) => t.type === 'UserRegistered' && t.source === 'auth');
    expect(registered?.count).toBe((await api('GET', '/api/v1/events?type=UserRegistered&source=auth&limit=200')).body.events.length);
    const keys = types.map((t) => `${t.source}/${t.type}`);
    expect(new Set(keys).size).toBe(keys.length);
    const sources = types.map((t) => t.source);
    expect(sources).toEqual([...sources].sort());
  });
});

describe('outbox status', () => {
  it('shows the producer with nothing pending and its published total once the relay reports', async () => {
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM auth.outbox WHERE published_at IS NOT NULL`.execute(auth.deps().rawDb);
    const published = rows[0]!.n;
    expect(published).toBeGreaterThan(0);
    // Each relay reports every few seconds. Waiting polls gRPC: the admin API is rate limited like any /api route.
    await eventually(async () => {
      const s = (await grpc.call(grpc.stub.getOutboxStatus, {})).services.find((x) => x.service === 'auth');
      return s?.pending === 0 && s.published_total === published;
    }, 'the auth relay to report its published events', 30_000, 250);
    const status = (await api('GET', '/api/v1/events/outbox')).body;
    const authStatus = status.services.find((s: { service: string }) => s.service === 'auth');
    expect(authStatus).toMatchObject({ service: 'auth', pending: 0, oldest_pending_age_seconds: 0, published_total: published, last_error: null });
    expect(Date.now() - Date.parse(authStatus.updated_at)).toBeLessThan(30_000);
    expect(status.services.map((s: { service: string }) => s.service)).toEqual(['auth', 'events']);
  });
});

describe('gRPC EventsService on the running port', () => {
  it('ListEvents and GetEvent return what the admin API returns', async () => {
    const corr = `grpc-${newId()}`;
    const emitted = await emitAndWait(
      Array.from({ length: 5 }, (_, i) => ({ aggregate: 'user', action: 'registered', type: 'UserRegistered', entityId: `g-${i}`, correlationId: i === 0 ? null : corr, data: { i, tags: ['x'] } })),
    );
    const http = (await api('GET', `/api/v1/events?correlation_id=${corr}`)).body;
    const page1 = await grpc.call(grpc.stub.listEvents, listRequest({ correlation_id: corr, limit: 3 }));
    const page2 = await grpc.call(grpc.stub.listEvents, listRequest({ correlation_id: corr, limit: 3, cursor: page1.next_cursor }));
    expect(page1.events).toHaveLength(3);
    expect(page1.next_cursor).not.toBe('');
    expect(page2.next_cursor).toBe('');
    const viaGrpc = [...page1.events, ...page2.events].map(({ data_json, correlation_id, ...rest }) => ({ ...rest, correlation_id: correlation_id || null, data: JSON.parse(data_json) as unknown }));
    expect(viaGrpc).toEqual(http.events);
    expect(viaGrpc.map((e) => e.id)).toEqual(emitted.slice(1).map((e) => e.id).reverse());

    const byType = await grpc.call(grpc.stub.listEvents, listRequest({ type: 'UserRenamed', source: 'auth', limit: 200 }));
    expect(byType.events.map((e) => e.id)).toEqual((await api('GET', '/api/v1/events?type=UserRenamed&source=auth')).body.events.map((e: { id: string }) => e.id));

    const first = emitted[0]!;
    const got = await grpc.call(grpc.stub.getEvent, { id: first.id });
    const { data_json, ...rest } = got.event!;
    const { data, ...envelope } = first;
    expect(rest).toEqual({ ...envelope, correlation_id: '', nats_subject: `${env.natsPrefix}.auth.user.registered` });
    expect(JSON.parse(data_json)).toEqual(data);
  });

  it('GetEvent of an unknown id surfaces NOT_FOUND, and bad arguments VALIDATION_FAILED', async () => {
    const unknown = await grpc.call(grpc.stub.getEvent, { id: newId() }).catch((err: unknown) => err);
    expect(unknown).toBeInstanceOf(AppError);
    expect(unknown).toMatchObject({ code: 'NOT_FOUND', message: 'event not found' });
    for (const call of [
      () => grpc.call(grpc.stub.getEvent, { id: 'not-a-uuid' }),
      () => grpc.call(grpc.stub.listEvents, listRequest({ cursor: 'garbage' })),
      () => grpc.call(grpc.stub.listEvents, listRequest({ cursor: encodeCursor(['2024-01-01T00:00:00.000Z', 'nope']) })),
      () => grpc.call(grpc.stub.listEvents, listRequest({ from: '2030-01-01T00:00:00Z', to: '2020-01-01T00:00:00Z' })),
    ]) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('VALIDATION_FAILED');
    }
  });

  it('GetOutboxStatus reports what the admin API reports', async () => {
    const viaGrpc = await grpc.call(grpc.stub.getOutboxStatus, {});
    const viaHttp = (await api('GET', '/api/v1/events/outbox')).body.services as Array<{ service: string; pending: number; published_total: number; last_error: string | null }>;
    const comparable = (s: { service: string; pending: number; published_total: number; last_error: string | null }) => ({ service: s.service, pending: s.pending, published_total: s.published_total, last_error: s.last_error || null });
    expect(viaGrpc.services.map(comparable)).toEqual(viaHttp.map(comparable));
    expect(viaGrpc.services.find((s) => s.service === 'auth')?.published_total).toBeGreaterThan(0);
  });
});

describe('outbox lag', () => {
  const authStatusViaGrpc = async () => (await grpc.call(grpc.stub.getOutboxStatus, {})).services.find((x) => x.service === 'auth');

  it('shows a stuck outbox row as pending with its error, and clears once it is gone', async () => {
    const stuckId = newId();
    // A row whose subject no stream captures: the relay cannot publish it and keeps retrying.
    await sql`INSERT INTO auth.outbox (id, subject, event_type, envelope) VALUES (${stuckId}, ${`unrouted.${env.natsPrefix}.auth.user.registered`}, 'UserRegistered', ${JSON.stringify({ id: stuckId })}::jsonb)`.execute(auth.deps().rawDb);
    try {
      await eventually(async () => (await authStatusViaGrpc())?.last_error, 'the relay to report the stuck row', 30_000, 250);
      const stuck = (await api('GET', '/api/v1/events/outbox')).body.services.find((x: { service: string }) => x.service === 'auth');
      expect(stuck).toMatchObject({ service: 'auth', pending: 1 });
      expect(stuck.last_error).toMatch(/no JetStream stream answered on unrouted\./);
      expect(stuck.oldest_pending_age_seconds).toBeGreaterThan(0);
    } finally {
      await sql`DELETE FROM auth.outbox WHERE id = ${stuckId}`.execute(auth.deps().rawDb);
    }
    await eventually(async () => (await authStatusViaGrpc())?.pending === 0, 'the lag to clear', 30_000, 250);
    const cleared = (await api('GET', '/api/v1/events/outbox')).body.services.find((x: { service: string }) => x.service === 'auth');
    expect(cleared).toMatchObject({ pending: 0, oldest_pending_age_seconds: 0, last_error: null });
  });
});
