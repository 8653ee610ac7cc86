import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, createBreaker, createGrpcClient, createMetrics, generateDevCertificates, newId, runServices, type ClientTlsOptions, type GrpcClient, type RunningPlatform } from '@nova/platform';
import { authV1 } from '@nova/proto';
import { createTestEnv, eventually, type TestEnv } from '@nova/testing';
import { authService } from '../src/index.js';

const ENCRYPTION_KEY = randomBytes(32).toString('base64');

function authEnv(env: TestEnv, overrides: Record<string, string> = {}): Record<string, string> {
  return env.env({
    AUTH_KEY_SIZE_BITS: '2048',
    AUTH_ENCRYPTION_KEY: ENCRYPTION_KEY,
    MAIL_DIR: mkdtempSync(join(tmpdir(), 'nova-auth-mail-')),
    // Every request below comes from its own X-Forwarded-For address, so the 5/min register limit holds.
    TRUSTED_PROXIES: '127.0.0.1',
    ...overrides,
  });
}

interface Account {
  id: string;
  username: string;
  email: string;
  access: string;
  refresh: string;
  sessionId: string;
}

let ipCounter = 0;
/** A distinct client address per request (through the trusted proxy 127.0.0.1). */
const nextIp = () => `10.7.${(++ipCounter >> 8) & 255}.${ipCounter & 255}`;

function http(platform: () => RunningPlatform) {
  return async (method: string, path: string, opts: { token?: string; body?: unknown } = {}) => {
    const headers: Record<string, string> = { 'x-forwarded-for': nextIp() };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`http://127.0.0.1:${platform().httpPort}${path}`, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as any };
  };
}

async function register(api: ReturnType<typeof http>, name: string): Promise<Account> {
  const username = `${name}_${randomBytes(3).toString('hex')}`;
  const email = `${username}@Example.com`;
  const res = await api('POST', '/api/v1/auth/register', { body: { email, username, password: 'correct horse battery staple 42' } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.user.id, username, email, access: res.body.tokens.access_token, refresh: res.body.tokens.refresh_token, sessionId: res.body.tokens.session_id };
}

function client(address: string, tls: ClientTlsOptions = { enabled: false }, appEnv: 'test' | 'production' = 'test'): GrpcClient<authV1.AuthServiceClient> {
  return createGrpcClient(authV1.AuthServiceClient, {
    target: address,
    appEnv,
    tls,
    breaker: createBreaker({ dependency: 'auth', metrics: createMetrics({ defaultMetrics: false }) }),
  });
}

/** The AppError a call rejects with (the test fails if it resolves). */
async function failure(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    (v) => {
      throw new Error(`expected a failure, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

async function sqlQuery(databaseUrl: string, text: string, params: unknown[] = []): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query(text, params);
  } finally {
    await db.end();
  }
}

describe('nova.auth.v1.AuthService (plaintext, APP_ENV=test)', () => {
  let env: TestEnv;
  let platform: RunningPlatform;
  let grpc: GrpcClient<authV1.AuthServiceClient>;
  const api = http(() => platform);
  let alice: Account;
  let bob: Account;
  let carol: Account;

  beforeAll(async () => {
    env = await createTestEnv();
    platform = await runServices({ services: [authService], env: authEnv(env) });
    grpc = client(`127.0.0.1:${platform.grpcPort}`);
    [alice, bob, carol] = await Promise.all([register(api, 'alice'), register(api, 'bob'), register(api, 'carol')]);
    await sqlQuery(env.databaseUrl, 'UPDATE auth.users SET email_verified_at = now() WHERE id = $1', [carol.id]);
    // Bob deletes his account: from now on he does not exist for other services.
    const deleted = await api('DELETE', '/api/v1/auth/me', { token: bob.access });
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(204);
  });
  afterAll(async () => {
    grpc?.close();
    await platform?.stop();
    await env?.cleanup();
  });

  it('GetUser returns the account without its email; unknown and deleted ids are NOT_FOUND', async () => {
    const { user } = await grpc.call(grpc.stub.getUser, { id: alice.id });
    expect(user).toEqual({ id: alice.id, username: alice.username, role: 'user', email_verified: false, created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(user?.email).toBeUndefined();
    expect((await grpc.call(grpc.stub.getUser, { id: carol.id })).user?.email_verified).toBe(true);
    // Upper-case UUIDs are the same id.
    expect((await grpc.call(grpc.stub.getUser, { id: alice.id.toUpperCase() })).user?.id).toBe(alice.id);

    for (const id of [newId(), bob.id]) {
      const err = await failure(grpc.call(grpc.stub.getUser, { id }));
      expect(err.code).toBe('NOT_FOUND');
      expect(err.grpcStatus).toBe(GrpcStatus.NOT_FOUND);
    }
  });

  it('refuses ids that are not UUIDs with INVALID_ARGUMENT (VALIDATION_FAILED), in every method', async () => {
    const calls = [
      () => grpc.call(grpc.stub.getUser, { id: 'alice' }),
      () => grpc.call(grpc.stub.getUser, { id: '' }),
      () => grpc.call(grpc.stub.checkUserExists, { id: '1234' }),
      () => grpc.call(grpc.stub.getUsersByIds, { ids: [alice.id, 'nope'] }),
      () => grpc.call(grpc.stub.checkPermission, { user_id: "' OR 1=1 --", permission: 'content.create' }),
    ];
    for (const call of calls) {
      const err = await failure(call());
      expect(err.code).toBe('VALIDATION_FAILED');
      expect(err.grpcStatus).toBe(GrpcStatus.INVALID_ARGUMENT);
    }
    const err = await failure(grpc.call(grpc.stub.getUsersByIds, { ids: [alice.id, 'nope'] }));
    expect(err.message).toContain('ids[1] must be a UUID');
  });

  it('GetUsersByIds returns live accounts in the order asked, once each; unknown and deleted ids are absent', async () => {
    const { users } = await grpc.call(grpc.stub.getUsersByIds, { ids: [carol.id, newId(), bob.id, alice.id, carol.id] });
    expect(users.map((u) => u.username)).toEqual([carol.username, alice.username]);
    expect(users.every((u) => u.email === undefined)).toBe(true);
    expect((await grpc.call(grpc.stub.getUsersByIds, { ids: [] })).users).toEqual([]);

    const many = Array.from({ length: 500 }, () => newId());
    many[250] = alice.id;
    expect((await grpc.call(grpc.stub.getUsersByIds, { ids: many })).users.map((u) => u.id)).toEqual([alice.id]);
    const tooMany = await failure(grpc.call(grpc.stub.getUsersByIds, { ids: [...many, newId()] }));
    expect(tooMany.code).toBe('VALIDATION_FAILED');
    expect(tooMany.message).toContain('at most 500 ids');
  });

  it('CheckUserExists: true for a live account, false for an unknown or deleted one', async () => {
    expect(await grpc.call(grpc.stub.checkUserExists, { id: alice.id })).toEqual({ exists: true });
    expect(await grpc.call(grpc.stub.checkUserExists, { id: newId() })).toEqual({ exists: false });
    expect(await grpc.call(grpc.stub.checkUserExists, { id: bob.id })).toEqual({ exists: false });
  });

  it('GetUserByEmail finds the account case-insensitively, email included; a deleted account is NOT_FOUND', async () => {
    const { user } = await grpc.call(grpc.stub.getUserByEmail, { email: `  ${alice.email.toUpperCase()} ` });
    expect(user).toMatchObject({ id: alice.id, username: alice.username, email: alice.email, role: 'user' });
    expect((await failure(grpc.call(grpc.stub.getUserByEmail, { email: bob.email }))).code).toBe('NOT_FOUND');
    expect((await failure(grpc.call(grpc.stub.getUserByEmail, { email: 'nobody@example.com' }))).code).toBe('NOT_FOUND');
    expect((await failure(grpc.call(grpc.stub.getUserByEmail, { email: 'not an email' }))).code).toBe('VALIDATION_FAILED');
  });

  it('GetUserWithEmail returns the account by id with its email; unknown, deleted and invalid ids fail', async () => {
    const { user } = await grpc.call(grpc.stub.getUserWithEmail, { id: alice.id.toUpperCase() });
    expect(user).toEqual({ id: alice.id, username: alice.username, role: 'user', email_verified: false, created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), email: alice.email });
    expect((await grpc.call(grpc.stub.getUserWithEmail, { id: carol.id })).user).toMatchObject({ email: carol.email, email_verified: true });
    for (const id of [newId(), bob.id]) {
      const err = await failure(grpc.call(grpc.stub.getUserWithEmail, { id }));
      expect(err.code).toBe('NOT_FOUND');
      expect(err.grpcStatus).toBe(GrpcStatus.NOT_FOUND);
    }
    const invalid = await failure(grpc.call(grpc.stub.getUserWithEmail, { id: alice.email }));
    expect(invalid.code).toBe('VALIDATION_FAILED');
    expect(invalid.grpcStatus).toBe(GrpcStatus.INVALID_ARGUMENT);
  });

  it('VerifyToken accepts a fresh access token and refuses refresh tokens, garbage and revoked sessions', async () => {
    const dave = await register(api, 'dave');
    const identity = await grpc.call(grpc.stub.verifyToken, { token: dave.access });
    expect(identity).toMatchObject({ user_id: dave.id, session_id: dave.sessionId, role: 'user' });
    expect(identity.token_id).not.toBe('');
    const expiresIn = Date.parse(identity.expires_at) - Date.now();
    expect(expiresIn).toBeGreaterThan(800_000);
    expect(expiresIn).toBeLessThanOrEqual(900_000);

    const [header, payload] = dave.access.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), role: 'admin' })).toString('base64url')}.${dave.access.split('.')[2]}`;
    for (const token of [dave.refresh, 'garbage', '', `${dave.access}x`, forged, `Bearer ${dave.access}`]) {
      const err = await failure(grpc.call(grpc.stub.verifyToken, { token }));
      expect(err.code, token.slice(0, 20)).toBe('UNAUTHENTICATED');
      expect(err.grpcStatus).toBe(GrpcStatus.UNAUTHENTICATED);
    }

    expect((await api('POST', '/api/v1/auth/logout', { token: dave.access })).status).toBe(204);
    // Revocation reaches every verifier within a second (pushed, not polled).
    await eventually(async () => (await grpc.call(grpc.stub.verifyToken, { token: dave.access }).catch((e: AppError) => e)) instanceof AppError, 'the revoked token to be refused', 1_000);
    expect((await failure(grpc.call(grpc.stub.verifyToken, { token: dave.access }))).code).toBe('UNAUTHENTICATED');
  });

  it('CheckPermission answers from the current role (admin ⊇ moderator ⊇ user)', async () => {
    const check = (user_id: string, permission: string) => grpc.call(grpc.stub.checkPermission, { user_id, permission });
    expect(await check(alice.id, 'content.create')).toEqual({ allowed: true, role: 'user' });
    expect(await check(alice.id, 'content.moderate')).toEqual({ allowed: false, role: 'user' });
    expect(await check(alice.id, 'users.manage_roles')).toEqual({ allowed: false, role: 'user' });

    await sqlQuery(env.databaseUrl, "UPDATE auth.users SET role = 'moderator' WHERE id = $1", [carol.id]);
    expect(await check(carol.id, 'content.create')).toEqual({ allowed: true, role: 'moderator' });
    expect(await check(carol.id, 'content.moderate')).toEqual({ allowed: true, role: 'moderator' });
    expect(await check(carol.id, 'events.admin')).toEqual({ allowed: false, role: 'moderator' });

    await sqlQuery(env.databaseUrl, "UPDATE auth.users SET role = 'admin' WHERE id = $1", [carol.id]);
    for (const p of ['content.create', 'content.moderate', 'streams.moderate', 'users.manage_roles', 'events.admin']) {
      expect(await check(carol.id, p)).toEqual({ allowed: true, role: 'admin' });
    }

    const unknown = await failure(check(alice.id, 'content.destroy_everything'));
    expect(unknown.code).toBe('VALIDATION_FAILED');
    expect(unknown.message).toContain('unknown permission');
    expect((await failure(check(newId(), 'content.create'))).code).toBe('NOT_FOUND');
    expect((await failure(check(bob.id, 'content.create'))).code).toBe('NOT_FOUND');
  });
});

describe('nova.auth.v1.AuthService under mTLS (APP_ENV=production)', () => {
  let env: TestEnv;
  let platform: RunningPlatform;
  let dir: string;
  const api = http(() => platform);
  let erin: Account;
  const clients: GrpcClient<authV1.AuthServiceClient>[] = [];
  const as = (service: string | null) => {
    const tls: ClientTlsOptions = { enabled: true, caCertPath: join(dir, 'ca.crt'), ...(service ? { clientCertPath: join(dir, `${service}.crt`), clientKeyPath: join(dir, `${service}.key`) } : {}) };
    const c = client(`localhost:${platform.grpcPort}`, tls, 'production');
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    env = await createTestEnv();
    dir = mkdtempSync(join(tmpdir(), 'nova-auth-certs-'));
    await generateDevCertificates(dir, { services: ['auth', 'notification', 'user', 'feed'] });
    platform = await runServices({
      services: [authService],
      env: authEnv(env, {
        APP_ENV: 'production',
        // Never contacted: registration's verification mail fails and is logged, which is all production asks of it here.
        SMTP_URL: 'smtp://127.0.0.1:1',
        GRPC_TLS_ENABLED: 'true',
        GRPC_TLS_CA_CERT_PATH: join(dir, 'ca.crt'),
        GRPC_TLS_SERVER_CERT_PATH: join(dir, 'server.crt'),
        GRPC_TLS_SERVER_KEY_PATH: join(dir, 'server.key'),
        GRPC_TLS_REQUIRE_CLIENT_CERT: 'true',
        GRPC_TLS_CLIENT_CERT_PATH: join(dir, 'auth.crt'),
        GRPC_TLS_CLIENT_KEY_PATH: join(dir, 'auth.key'),
      }),
    });
    erin = await register(api, 'erin');
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await platform?.stop();
    await env?.cleanup();
  });

  it('GetUserByEmail and GetUserWithEmail answer the services on their allow list and refuse the others', async () => {
    for (const service of ['notification', 'user']) {
      const c = as(service);
      expect((await c.call(c.stub.getUserByEmail, { email: erin.email })).user).toMatchObject({ id: erin.id, email: erin.email });
      expect((await c.call(c.stub.getUserWithEmail, { id: erin.id })).user).toMatchObject({ id: erin.id, email: erin.email });
    }
    const feed = as('feed');
    const refused = await failure(feed.call(feed.stub.getUserByEmail, { email: erin.email }));
    expect(refused.code).toBe('FORBIDDEN');
    expect(refused.grpcStatus).toBe(GrpcStatus.PERMISSION_DENIED);
    expect(refused.message).not.toContain(erin.id);
    const refusedById = await failure(feed.call(feed.stub.getUserWithEmail, { id: erin.id }));
    expect(refusedById.code).toBe('FORBIDDEN');
    expect(refusedById.grpcStatus).toBe(GrpcStatus.PERMISSION_DENIED);
    expect(refusedById.message).not.toContain(erin.email);
    // The rest of the service is open to every verified service.
    expect((await feed.call(feed.stub.getUser, { id: erin.id })).user?.username).toBe(erin.username);
    expect((await feed.call(feed.stub.verifyToken, { token: erin.access })).user_id).toBe(erin.id);
  });

  it('refuses a caller without a client certificate', async () => {
    const anonymous = as(null);
    const err = await failure(anonymous.call(anonymous.stub.getUser, { id: erin.id }));
    expect(err.code).toBe('DEPENDENCY_UNAVAILABLE');
  });
});
