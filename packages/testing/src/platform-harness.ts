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
  type ServiceModule,
  type ServicePool,
} from '@nova/platform';
import { createTestEnv, eventually, type TestEnv } from './test-env.js';
import { TestTokenIssuer } from './token-issuer.js';

/**
 * A service's integration-test harness: the given services in one process (as `nova up` runs them) on the
 * real PostgreSQL, Redis and NATS of a fresh isolated environment. Accounts come into being as in production:
 * auth's `UserRegistered` on JetStream, which the user service (when it is among `services`) turns into a
 * profile. Tokens come from a local stand-in for auth (TestTokenIssuer, whose JWKS every service verifies
 * against); a token may carry any role. Follows, blocks, mutes and private accounts go through the user
 * service's real HTTP API.
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

/** An event as another service would publish it. */
export interface TestEvent {
  aggregate: string;
  action: string;
  type: string;
  entityId: string;
  data: unknown;
}

export interface PlatformHarness<DB> {
  env: TestEnv;
  /** The raw environment the services were started with (for a second instance or process). */
  rawEnv: Record<string, string>;
  issuer: TestTokenIssuer;
  platform: RunningPlatform;
  /** Kysely on the harness's own schema, for setup and assertions. */
  db: Kysely<DB>;
  nats: NatsHandle;
  /** An HTTP call to the process (every service's routes). */
  api<T = any>(method: string, path: string, opts?: CallOptions): Promise<ApiResponse<T>>;
  /** Registers an account the way auth does and waits until the user service has its profile. */
  newUser(opts?: { username?: string; role?: Role }): Promise<TestUser>;
  /** A fresh access token for an account id, with an optional role. */
  tokenFor(userId: string, role?: Role): Promise<string>;
  /** `a` follows `b` through the user API; a private `b` accepts the request at once. */
  follow(a: TestUser, b: TestUser): Promise<void>;
  /** `a` stops following `b` through the user API. */
  unfollow(a: TestUser, b: TestUser): Promise<void>;
  /** `a` blocks `b` through the user API. */
  block(a: TestUser, b: TestUser): Promise<void>;
  /** `a` mutes `b` through the user API. */
  mute(a: TestUser, b: TestUser): Promise<void>;
  /** Makes `a`'s account private through the user API. */
  makePrivate(a: TestUser): Promise<void>;
  /** Publishes an event as `source` would (e.g. auth's UserDeleted); returns the envelope. */
  publishEvent(source: string, e: TestEvent): Promise<EventEnvelope>;
  /** Outbox rows of the harness's service of one event type (optionally about one entity), oldest first. */
  outboxEvents(type: string, entityId?: string): Promise<EventEnvelope<any>[]>;
  stop(): Promise<void>;
}

export interface PlatformHarnessOptions {
  /** The services to run; the first one's schema is the harness's `db`. */
  services: ServiceModule<any>[];
  /** Raw env values on top of the test environment's. */
  overrides?: Record<string, string>;
}

let ipCounter = 0;
/** A client IP never used before in this process, so calls stay under the per-IP limits. */
export function freshIp(): string {
  ipCounter += 1;
  return `10.${(ipCounter >> 16) & 255}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
}

let userCounter = 0;
/** A username (3-32 of [A-Za-z0-9_]) no other test in this process uses. */
export function newUsername(label = 'u'): string {
  userCounter += 1;
  return `${label}_${userCounter}_${randomBytes(4).toString('hex')}`.slice(0, 32);
}

/**
 * `api(method, path, opts)` against a local HTTP port: JSON in and out (a body that is not JSON stays text, so
 * a failing assertion shows it), a fresh client IP per call unless given (X-Forwarded-For through the
 * trusted local proxy), the token as `Authorization: Bearer`.
 */
export function httpCaller(port: number) {
  return async <T = any>(method: string, path: string, call: CallOptions = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { 'x-forwarded-for': call.ip ?? freshIp(), ...call.headers };
    if (call.token !== undefined) headers.authorization = `Bearer ${call.token}`;
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers,
      ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
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
}

export async function startPlatform<DB>(opts: PlatformHarnessOptions): Promise<PlatformHarness<DB>> {
  const schema = opts.services[0]!.name;
  const env = await createTestEnv();
  const issuer = await TestTokenIssuer.start({ issuer: 'nova-auth', audience: 'nova' });
  // The user service asks auth only for an owner's email: unless auth runs too, nothing listens there.
  const raw = env.env({ AUTH_JWKS_URL: issuer.jwksUrl, GRPC_ADDR_AUTH: '127.0.0.1:9', TRUSTED_PROXIES: '127.0.0.1', ...opts.overrides });
  let platform: RunningPlatform | undefined;
  let nats: NatsHandle | undefined;
  let pool: ServicePool<DB>;
  try {
    platform = await runServices({ services: opts.services, env: raw });
    nats = await connectNats({ servers: platform.config.NATS_URL, name: `${schema}-test-${env.id}`, logger: createLogger({ level: 'silent' }) });
    pool = createServicePool<DB>({
      service: `${schema}-test`,
      schema,
      connectionString: env.databaseUrl,
      max: 3,
      acquireTimeoutMs: 10_000,
      statementTimeoutMs: 0,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: createLogger({ level: 'silent' }),
    });
  } catch (err) {
    await nats?.close();
    await platform?.stop();
    await issuer.close();
    await env.cleanup();
    throw err;
  }
  const running = platform;
  const js = nats;
  const db = pool.db;

  const api = httpCaller(running.httpPort);

  const expectStatus = (res: ApiResponse, ok: number[], what: string) => {
    if (!ok.includes(res.status)) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  };

  const publishEvent: PlatformHarness<DB>['publishEvent'] = async (source, e) => {
    const envelope: EventEnvelope = {
      id: newId(),
      type: e.type,
      version: 1,
      source,
      subject: `${e.aggregate}/${e.entityId}`,
      occurred_at: new Date().toISOString(),
      correlation_id: null,
      data: e.data,
    };
    await js.js.publish(eventSubject(env.natsPrefix, source, e.aggregate, e.action), JSON.stringify(envelope), { msgID: envelope.id });
    return envelope;
  };

  const tokenFor = (userId: string, role: Role = 'user') => issuer.sign({ sub: userId, role });

  const newUser: PlatformHarness<DB>['newUser'] = async (o = {}) => {
    const id = newId();
    const username = o.username ?? newUsername();
    await publishEvent('auth', { aggregate: 'user', action: 'registered', type: 'UserRegistered', entityId: id, data: { user_id: id, username, email_verified: false, method: 'password' } });
    const token = await tokenFor(id, o.role);
    await eventually(async () => (await api('GET', `/api/v1/users/${id}`, { token })).status === 200, `the profile of ${username}`);
    return { id, username, token };
  };

  const follow: PlatformHarness<DB>['follow'] = async (a, b) => {
    const res = await api('POST', `/api/v1/users/${b.id}/follow`, { token: a.token });
    expectStatus(res, [200, 201, 202], `${a.username} follows ${b.username}`);
    if (res.body?.state === 'requested') {
      expectStatus(await api('POST', `/api/v1/users/me/follow-requests/${a.id}/accept`, { token: b.token }), [200, 204], `${b.username} accepts ${a.username}`);
    }
  };

  const outboxEvents = async (type: string, entityId?: string): Promise<EventEnvelope<any>[]> => {
    const { rows } = await sql<{ envelope: EventEnvelope<any> }>`SELECT envelope FROM ${sql.table(`${schema}.outbox`)} WHERE event_type = ${type} ORDER BY created_at, id`.execute(db);
    return rows.map((r) => r.envelope).filter((e) => entityId === undefined || e.subject.endsWith(`/${entityId}`));
  };

  return {
    env,
    rawEnv: raw,
    issuer,
    platform: running,
    db,
    nats: js,
    api,
    newUser,
    tokenFor,
    follow,
    async unfollow(a, b) {
      expectStatus(await api('DELETE', `/api/v1/users/${b.id}/follow`, { token: a.token }), [200, 204], `${a.username} unfollows ${b.username}`);
    },
    async block(a, b) {
      expectStatus(await api('POST', `/api/v1/users/${b.id}/block`, { token: a.token }), [200, 201, 204], `${a.username} blocks ${b.username}`);
    },
    async mute(a, b) {
      expectStatus(await api('POST', `/api/v1/users/${b.id}/mute`, { token: a.token, body: {} }), [200, 201, 204], `${a.username} mutes ${b.username}`);
    },
    async makePrivate(a) {
      expectStatus(await api('PATCH', '/api/v1/users/me', { token: a.token, body: { is_private: true } }), [200], `${a.username} goes private`);
    },
    publishEvent,
    outboxEvents,
    async stop() {
      await running.stop();
      await js.close();
      await pool.close();
      await issuer.close();
      await env.cleanup();
    },
  };
}
