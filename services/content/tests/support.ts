import { randomBytes } from 'node:crypto';
import {
  connectNats,
  createLogger,
  createMetrics,
  createServicePool,
  eventSubject,
  newId,
  runServices,
  sql,
  type EventEnvelope,
  type Kysely,
  type NatsHandle,
  type Role,
  type RunningPlatform,
  type ServicePool,
} from '@nova/platform';
import { createTestEnv, eventually, TestTokenIssuer, type TestEnv } from '@nova/testing';
import { userService } from '@nova/user';
import { contentService } from '../src/index.js';
import type { ContentDb } from '../src/db/schema.js';

/**
 * The content service's integration-test harness. Content runs together with the real user service (it asks
 * it who follows and blocks whom over gRPC, in-process) on the real PostgreSQL, Redis and NATS of a fresh
 * isolated environment. Accounts come into being as in production: auth's `UserRegistered` on JetStream,
 * which the user service turns into a profile. Tokens come from a local stand-in for auth (TestTokenIssuer,
 * whose JWKS both services verify against); a token may carry any role. Follows, blocks and private accounts
 * go through the user service's real HTTP API.
 */

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface CallOptions {
  /** Access token sent as `Authorization: Bearer`. */
  token?: string;
  body?: unknown;
  /** The client IP the request appears to come from; a fresh one per request unless given. */
  ip?: string;
  headers?: Record<string, string>;
}

export interface TestUser {
  id: string;
  username: string;
  /** A valid access token of this user (role `user`, unless newUser was told otherwise). */
  token: string;
}

export interface ContentHarness {
  env: TestEnv;
  issuer: TestTokenIssuer;
  platform: RunningPlatform;
  /** Kysely on the `content` schema, for setup and assertions. */
  db: Kysely<ContentDb>;
  nats: NatsHandle;
  /** An HTTP call to the process (content and user routes alike). */
  api<T = any>(method: string, path: string, opts?: CallOptions): Promise<ApiResponse<T>>;
  /** Registers an account the way auth does and waits until the user service has its profile. */
  newUser(opts?: { username?: string; role?: Role }): Promise<TestUser>;
  /** A fresh access token for an account id, with an optional role. */
  tokenFor(userId: string, role?: Role): Promise<string>;
  /** `a` follows `b` through the user API; a private `b` accepts the request at once. */
  follow(a: TestUser, b: TestUser): Promise<void>;
  /** `a` blocks `b` through the user API. */
  block(a: TestUser, b: TestUser): Promise<void>;
  /** Makes `a`'s account private through the user API. */
  makePrivate(a: TestUser): Promise<void>;
  /** Publishes an event as the auth service would (e.g. UserDeleted); returns the envelope. */
  publishAuthEvent(e: { aggregate: string; action: string; type: string; entityId: string; data: unknown }): Promise<EventEnvelope>;
  /** Outbox rows of the content service of one event type (optionally about one entity), oldest first. */
  outboxEvents(type: string, entityId?: string): Promise<EventEnvelope<any>[]>;
  stop(): Promise<void>;
}

let ipCounter = 0;
/** A client IP never used before in this process, so calls stay under the per-IP limits. */
export function freshIp(): string {
  ipCounter += 1;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

let userCounter = 0;
/** A username (3-32 of [A-Za-z0-9_]) no other test in this process uses. */
export function newUsername(label = 'c'): string {
  userCounter += 1;
  return `${label}_${userCounter}_${randomBytes(4).toString('hex')}`.slice(0, 32);
}

/** Starts content + user in one process; `overrides` are raw env values. */
export async function startContentService(overrides: Record<string, string> = {}): Promise<ContentHarness> {
  const env = await createTestEnv();
  const issuer = await TestTokenIssuer.start({ issuer: 'nova-auth', audience: 'nova' });
  // The user service asks auth only for an owner's email, which no content test needs: nothing listens there.
  const raw = env.env({ AUTH_JWKS_URL: issuer.jwksUrl, GRPC_ADDR_AUTH: '127.0.0.1:9', TRUSTED_PROXIES: '127.0.0.1', ...overrides });
  let platform: RunningPlatform;
  let nats: NatsHandle;
  let pool: ServicePool<ContentDb>;
  try {
    platform = await runServices({ services: [contentService, userService], env: raw });
    nats = await connectNats({ servers: platform.config.NATS_URL, name: `content-test-${env.id}`, logger: createLogger({ level: 'silent' }) });
    pool = createServicePool<ContentDb>({
      service: 'content-test',
      schema: 'content',
      connectionString: env.databaseUrl,
      max: 3,
      acquireTimeoutMs: 10_000,
      statementTimeoutMs: 0,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: createLogger({ level: 'silent' }),
    });
  } catch (err) {
    await issuer.close();
    await env.cleanup();
    throw err;
  }
  const db = pool.db;

  const api = async <T = any>(method: string, path: string, opts: CallOptions = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { 'x-forwarded-for': opts.ip ?? freshIp(), ...opts.headers };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`http://127.0.0.1:${platform.httpPort}${path}`, {
      method,
      headers,
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text.length > 0 ? JSON.parse(text) : null;
    } catch {
      // Not JSON: keep the text so a failing assertion shows it.
    }
    return { status: res.status, body: body as T, headers: res.headers };
  };

  const expectStatus = (res: ApiResponse, ok: number[], what: string) => {
    if (!ok.includes(res.status)) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  };

  const publishAuthEvent: ContentHarness['publishAuthEvent'] = async (e) => {
    const envelope: EventEnvelope = {
      id: newId(),
      type: e.type,
      version: 1,
      source: 'auth',
      subject: `${e.aggregate}/${e.entityId}`,
      occurred_at: new Date().toISOString(),
      correlation_id: null,
      data: e.data,
    };
    await nats.js.publish(eventSubject(env.natsPrefix, 'auth', e.aggregate, e.action), JSON.stringify(envelope), { msgID: envelope.id });
    return envelope;
  };

  const tokenFor = (userId: string, role: Role = 'user') => issuer.sign({ sub: userId, role });

  const newUser: ContentHarness['newUser'] = async (opts = {}) => {
    const id = newId();
    const username = opts.username ?? newUsername();
    await publishAuthEvent({ aggregate: 'user', action: 'registered', type: 'UserRegistered', entityId: id, data: { user_id: id, username, email_verified: false, method: 'password' } });
    const token = await tokenFor(id, opts.role);
    await eventually(async () => (await api('GET', `/api/v1/users/${id}`, { token })).status === 200, `the profile of ${username}`);
    return { id, username, token };
  };

  const follow: ContentHarness['follow'] = async (a, b) => {
    const res = await api('POST', `/api/v1/users/${b.id}/follow`, { token: a.token });
    expectStatus(res, [200, 201, 202], `${a.username} follows ${b.username}`);
    if (res.body?.state === 'requested') {
      expectStatus(await api('POST', `/api/v1/users/me/follow-requests/${a.id}/accept`, { token: b.token }), [200, 204], `${b.username} accepts ${a.username}`);
    }
  };

  const block: ContentHarness['block'] = async (a, b) => {
    expectStatus(await api('POST', `/api/v1/users/${b.id}/block`, { token: a.token }), [200, 201, 204], `${a.username} blocks ${b.username}`);
  };

  const makePrivate: ContentHarness['makePrivate'] = async (a) => {
    expectStatus(await api('PATCH', '/api/v1/users/me', { token: a.token, body: { is_private: true } }), [200], `${a.username} goes private`);
  };

  const outboxEvents = async (type: string, entityId?: string): Promise<EventEnvelope<any>[]> => {
    const { rows } = await sql<{ envelope: EventEnvelope<any> }>`SELECT envelope FROM content.outbox WHERE event_type = ${type} ORDER BY created_at, id`.execute(db);
    return rows.map((r) => r.envelope).filter((e) => entityId === undefined || e.subject.endsWith(`/${entityId}`));
  };

  return {
    env,
    issuer,
    platform,
    db,
    nats,
    api,
    newUser,
    tokenFor,
    follow,
    block,
    makePrivate,
    publishAuthEvent,
    outboxEvents,
    async stop() {
      await platform.stop();
      await nats.close();
      await pool.close();
      await issuer.close();
      await env.cleanup();
    },
  };
}
