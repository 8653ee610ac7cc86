import {
  createBreaker,
  createEventTables,
  createGrpcClient,
  createMetrics,
  defineService,
  sql,
  type EventEnvelope,
  type GrpcClient,
  type OutboxEvent,
  type RunningPlatform,
  type ServiceDeps,
  type ServiceModule,
} from '@nova/platform';
import { eventsV1 } from '@nova/proto';

/** 40 characters: what an operator would put in EVENTS_ADMIN_TOKEN. */
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdefghijklm';

export interface Producer {
  module: ServiceModule;
  /** The runner's deps of the producer, available once runServices has created it. */
  deps(): ServiceDeps;
}

/**
 * A stand-in for another service that emits events: it takes the name `auth` (so it gets the auth schema,
 * pool, outbox and relay from the runner) and only creates the event tables. `setup` runs inside create(),
 * where consumers are declared so that the runner starts and stops them.
 */
export function producer(setup?: (deps: ServiceDeps) => void): Producer {
  let captured: ServiceDeps | undefined;
  const module = defineService({
    name: 'auth',
    description: 'test producer of events',
    migrations: { '0001-event-tables': { up: (db) => createEventTables(db, 'auth') } },
    create(deps) {
      captured = deps;
      setup?.(deps);
      return {};
    },
  });
  return {
    module,
    deps: () => {
      if (!captured) throw new Error('the producer has not been created yet');
      return captured;
    },
  };
}

/** Writes events through the producer's outbox in one transaction, as a real state change would. */
export async function emit(deps: ServiceDeps, events: Array<OutboxEvent<unknown>>): Promise<EventEnvelope[]> {
  return deps.rawDb.transaction().execute(async (tx) => {
    const out: EventEnvelope[] = [];
    for (const e of events) out.push(await deps.outbox.add(tx, e));
    return out;
  });
}

/** Waits until every id is in the archive (read straight from the database, so polling costs no API quota). */
export async function archivedCount(deps: ServiceDeps, ids: string[]): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM events.archive WHERE id = ANY(${ids}::uuid[])`.execute(deps.rawDb);
  return rows[0]?.n ?? 0;
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** Calls the running HTTP port like an operator's script would. `token: null` sends no Authorization. */
export function adminApi(platform: () => RunningPlatform) {
  return async <T = any>(method: string, path: string, opts: { token?: string | null; authorization?: string; body?: unknown } = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = {};
    const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
    if (opts.authorization !== undefined) headers.authorization = opts.authorization;
    else if (token !== null) headers.authorization = `Bearer ${token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`http://127.0.0.1:${platform().httpPort}${path}`, {
      method,
      headers,
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text.length > 0 ? JSON.parse(text) : null;
    } catch {
      // Not JSON: keep the text so the failing assertion shows it.
    }
    return { status: res.status, body: body as T, headers: res.headers };
  };
}

/** A metric's current value for the given labels (0 when the series does not exist yet). */
export async function metricValue(platform: RunningPlatform, name: string, labels: Record<string, string>): Promise<number> {
  const metric = platform.metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const data = await metric.get();
  return data.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? 0;
}

/** A real gRPC client of the events service on the running port (plaintext: APP_ENV=test). */
export function eventsClient(platform: RunningPlatform): GrpcClient<eventsV1.EventsServiceClient> {
  return createGrpcClient(eventsV1.EventsServiceClient, {
    target: `127.0.0.1:${platform.grpcPort}`,
    appEnv: 'test',
    tls: { enabled: false },
    breaker: createBreaker({ dependency: 'events', metrics: createMetrics({ defaultMetrics: false }) }),
  });
}

export function listRequest(r: Partial<eventsV1.ListEventsRequest>): eventsV1.ListEventsRequest {
  return { type: '', source: '', subject: '', correlation_id: '', from: '', to: '', limit: 0, cursor: '', ...r };
}

/** Resolves after `ms`; only used to make two batches of events get distinct timestamps. */
export const tick = (ms = 5) => new Promise<void>((r) => setTimeout(r, ms));
