import { authV1 } from '@nova/proto';
import {
  AppError,
  connectNats,
  createGrpcServer,
  createLogger,
  createMetrics,
  createServicePool,
  eventSubject,
  newId,
  runServices,
  sql,
  unary,
  type EventEnvelope,
  type GrpcServer,
  type Kysely,
  type NatsHandle,
  type RunningPlatform,
  type ServicePool,
} from '@nova/platform';
import { createTestEnv, eventually, httpCaller, newUsername, TestTokenIssuer, type ApiResponse, type CallOptions, type TestEnv } from '@nova/testing';

export { freshIp, newUsername, type ApiResponse, type CallOptions } from '@nova/testing';
import { userService } from '../src/index.js';
import type { UsersDb } from '../src/db/schema.js';

/** An account the fake auth service knows. */
export interface FakeAccount {
  id: string;
  username: string;
  email: string | null;
}

/**
 * A stand-in for the auth service's gRPC server (nova.auth.v1.AuthService over the real wire protocol, on a
 * free local port, with Nova's error mapping): it knows the accounts the harness registers. `down` makes
 * every call fail UNAVAILABLE, as an unreachable auth would.
 */
export class FakeAuth {
  readonly accounts = new Map<string, FakeAccount>();
  down = false;
  /** Calls received, by method name. */
  readonly calls: Record<string, number> = {};
  private server: GrpcServer | undefined;
  port = 0;

  async start(): Promise<void> {
    const server = createGrpcServer({ appEnv: 'test', tls: { enabled: false, requireClientCert: false }, logger: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }), serviceLabel: 'fake-auth', health: false });
    const user = (a: FakeAccount, withEmail: boolean): authV1.User => ({
      id: a.id,
      username: a.username,
      role: 'user',
      email_verified: false,
      created_at: new Date().toISOString(),
      ...(withEmail && a.email !== null ? { email: a.email } : {}),
    });
    const lookup = (method: string, id: string): FakeAccount => {
      this.calls[method] = (this.calls[method] ?? 0) + 1;
      if (this.down) throw new AppError('DEPENDENCY_UNAVAILABLE', 'fake auth is down');
      const account = this.accounts.get(id);
      if (!account) throw new AppError('NOT_FOUND', 'account not found');
      return account;
    };
    const refuse = () => {
      throw new AppError('NOT_IMPLEMENTED', 'not in the fake');
    };
    const implementation: authV1.AuthServiceServer = {
      getUser: unary(async (req: authV1.GetUserRequest) => ({ user: user(lookup('getUser', req.id), false) })),
      getUserWithEmail: unary(async (req: authV1.GetUserWithEmailRequest) => ({ user: user(lookup('getUserWithEmail', req.id), true) })),
      getUsersByIds: unary(refuse),
      checkUserExists: unary(refuse),
      getUserByEmail: unary(refuse),
      verifyToken: unary(refuse),
      checkPermission: unary(refuse),
    };
    server.addService(authV1.AuthServiceService, implementation as never);
    this.port = await server.listen('127.0.0.1', 0);
    this.server = server;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    await this.server?.shutdown(1_000);
  }
}

/**
 * The user service's integration-test harness. The service runs alone on the real PostgreSQL, Redis and NATS
 * of a fresh isolated environment (a test may not import the auth service): accounts come into being the way
 * they do in production, through auth's `UserRegistered` event published on JetStream, and access tokens are
 * minted by a local stand-in for auth's token side (TestTokenIssuer, whose JWKS the service verifies against).
 * Auth's gRPC API (the owner's email) is a local fake, {@link FakeAuth}, that knows every account created here.
 */

export interface TestUser {
  id: string;
  username: string;
  /** A valid access token of this user. */
  token: string;
}

export interface AuthEventInfo {
  /** `user` for UserRegistered/UserDeleted. */
  aggregate: string;
  /** `registered`, `deleted`, ... */
  action: string;
  type: string;
  entityId: string;
  data: unknown;
}

export interface UserHarness {
  env: TestEnv;
  issuer: TestTokenIssuer;
  auth: FakeAuth;
  platform: RunningPlatform;
  /** Kysely on the `users` schema, for setup and assertions. */
  db: Kysely<UsersDb>;
  nats: NatsHandle;
  api<T = any>(method: string, path: string, opts?: CallOptions): Promise<ApiResponse<T>>;
  /**
   * Registers an account the way auth does (UserRegistered on JetStream) and waits until its profile exists.
   * The fake auth knows it too, with the email `<username>@example.test` unless told otherwise.
   */
  newUser(username?: string, opts?: { email?: string | null }): Promise<TestUser>;
  /** An account auth knows and a token for it, whose UserRegistered has not been handled (nor even sent). */
  newAccountWithoutProfile(username?: string): Promise<TestUser>;
  /** A fresh access token for an account id (any id: the service trusts the token, not its own tables). */
  tokenFor(userId: string, claims?: Record<string, unknown>): Promise<string>;
  /** Deletes an account the way auth does (UserDeleted on JetStream) and waits until the profile is gone. */
  deleteUser(userId: string): Promise<void>;
  /** Publishes an event as the auth service would; returns the envelope. */
  publishAuthEvent(e: AuthEventInfo): Promise<EventEnvelope>;
  /** The same for another service's events (e.g. content's PostCreated). */
  publishEvent(source: string, e: AuthEventInfo): Promise<EventEnvelope>;
  /** Inserts a follow straight into the database with exact counters (setup that needs no API calls). */
  insertFollow(followerId: string, followeeId: string, at?: Date): Promise<void>;
  /** Inserts a block straight into the database (setup only: none of the block's side effects happen). */
  insertBlock(blockerId: string, blockedId: string): Promise<void>;
  /** Inserts a pending follow request straight into the database (setup only). */
  insertFollowRequest(requesterId: string, targetId: string): Promise<void>;
  /** Outbox rows of the user service of one event type (optionally about one entity), oldest first. */
  outboxEvents(type: string, entityId?: string): Promise<EventEnvelope<any>[]>;
  stop(): Promise<void>;
}

/** Starts the user service; `overrides` are raw env values. */
export async function startUserService(overrides: Record<string, string> = {}): Promise<UserHarness> {
  const env = await createTestEnv();
  const issuer = await TestTokenIssuer.start({ issuer: 'nova-auth', audience: 'nova' });
  const auth = new FakeAuth();
  await auth.start();
  const raw = env.env({ AUTH_JWKS_URL: issuer.jwksUrl, GRPC_ADDR_AUTH: auth.address, TRUSTED_PROXIES: '127.0.0.1', ...overrides });
  let platform: RunningPlatform;
  let nats: NatsHandle;
  let pool: ServicePool<UsersDb>;
  try {
    platform = await runServices({ services: [userService], env: raw });
    nats = await connectNats({ servers: platform.config.NATS_URL, name: `user-test-${env.id}`, logger: createLogger({ level: 'silent' }) });
    pool = createServicePool<UsersDb>({
      service: 'user-test',
      schema: 'users',
      connectionString: env.databaseUrl,
      max: 3,
      acquireTimeoutMs: 10_000,
      statementTimeoutMs: 0,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: createLogger({ level: 'silent' }),
    });
  } catch (err) {
    await issuer.close();
    await auth.stop();
    await env.cleanup();
    throw err;
  }
  const db = pool.db;

  const api = httpCaller(platform.httpPort);

  const publishEvent = async (source: string, e: AuthEventInfo): Promise<EventEnvelope> => {
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
    await nats.js.publish(eventSubject(env.natsPrefix, source, e.aggregate, e.action), JSON.stringify(envelope), { msgID: envelope.id });
    return envelope;
  };
  const publishAuthEvent = (e: AuthEventInfo) => publishEvent('auth', e);

  const tokenFor = (userId: string, claims: Record<string, unknown> = {}) => issuer.sign({ sub: userId, ...claims });

  const newAccountWithoutProfile = async (username = newUsername()): Promise<TestUser> => {
    const id = newId();
    auth.accounts.set(id, { id, username, email: `${username.toLowerCase()}@example.test` });
    return { id, username, token: await tokenFor(id) };
  };

  const newUser = async (username = newUsername(), opts: { email?: string | null } = {}): Promise<TestUser> => {
    const id = newId();
    auth.accounts.set(id, { id, username, email: opts.email === undefined ? `${username.toLowerCase()}@example.test` : opts.email });
    await publishAuthEvent({ aggregate: 'user', action: 'registered', type: 'UserRegistered', entityId: id, data: { user_id: id, username, email_verified: false, method: 'password' } });
    await eventually(() => db.selectFrom('profiles').select('id').where('id', '=', id).executeTakeFirst(), `the profile of ${username}`);
    return { id, username, token: await tokenFor(id) };
  };

  const deleteUser = async (userId: string): Promise<void> => {
    auth.accounts.delete(userId);
    await publishAuthEvent({ aggregate: 'user', action: 'deleted', type: 'UserDeleted', entityId: userId, data: { user_id: userId, deleted_by: userId } });
    await eventually(
      async () => (await db.selectFrom('profiles').select('deleted_at').where('id', '=', userId).executeTakeFirst())?.deleted_at,
      `the profile ${userId} to be deleted`,
    );
  };

  const insertFollow = async (followerId: string, followeeId: string, at?: Date): Promise<void> => {
    await db.transaction().execute(async (tx) => {
      await tx.insertInto('follows').values({ follower_id: followerId, followee_id: followeeId, ...(at ? { created_at: at } : {}) }).execute();
      await tx.updateTable('profiles').set({ following_count: sql`following_count + 1` }).where('id', '=', followerId).execute();
      await tx.updateTable('profiles').set({ follower_count: sql`follower_count + 1` }).where('id', '=', followeeId).execute();
    });
  };

  const insertBlock = async (blockerId: string, blockedId: string): Promise<void> => {
    await db.insertInto('blocks').values({ blocker_id: blockerId, blocked_id: blockedId }).execute();
  };

  const insertFollowRequest = async (requesterId: string, targetId: string): Promise<void> => {
    await db.insertInto('follow_requests').values({ requester_id: requesterId, target_id: targetId }).execute();
  };

  const outboxEvents = async (type: string, entityId?: string): Promise<EventEnvelope<any>[]> => {
    const { rows } = await sql<{ envelope: EventEnvelope<any> }>`SELECT envelope FROM users.outbox WHERE event_type = ${type} ORDER BY created_at, id`.execute(db);
    return rows.map((r) => r.envelope).filter((e) => entityId === undefined || e.subject.endsWith(`/${entityId}`));
  };

  return {
    env,
    issuer,
    auth,
    platform,
    db,
    nats,
    api,
    newUser,
    newAccountWithoutProfile,
    tokenFor,
    deleteUser,
    publishAuthEvent,
    publishEvent,
    insertFollow,
    insertBlock,
    insertFollowRequest,
    outboxEvents,
    async stop() {
      await platform.stop();
      await nats.close();
      await pool.close();
      await issuer.close();
      await auth.stop();
      await env.cleanup();
    },
  };
}
