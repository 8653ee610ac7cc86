import { randomBytes, randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApp, registerService, type HttpApp } from '../http/app.js';
import { Type } from '../http/index.js';
import { createGrpcServer, type GrpcServer } from '../grpc/server.js';
import { createLogger } from '../logging/logger.js';
import { createMetrics } from '../metrics/metrics.js';
import { connectRedis, createRedis } from '../redis/client.js';
import { BUILTIN_PRESETS } from '../rate-limit/presets.js';
import { RateLimiter } from '../rate-limit/limiter.js';
import { registerRateLimit } from '../rate-limit/fastify.js';
import type { AuthIdentity } from './claims.js';
import { authenticateCall, authenticatedUnary, bearerMetadata } from './grpc-auth.js';
import { getUserId, registerAuth } from './http-auth.js';
import { revokeSessions } from './revocations.js';
import { TestTokenIssuer } from '@nova/testing';
import { TokenVerifier } from './verifier.js';

// The Fastify hook and the gRPC helpers on the real HTTP stack (createHttpApp, registerService, the rate
// limiter) with a real verifier: local JWKS server, real Redis under this file's own key prefix.
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `t:authh:${randomBytes(5).toString('hex')}:`;
const logger = createLogger({ level: 'silent' });

let issuer: TestTokenIssuer;
let redis: Redis;
let verifier: TokenVerifier;
let app: HttpApp;

beforeAll(async () => {
  issuer = await TestTokenIssuer.start();
  redis = createRedis({ url: REDIS_URL, keyPrefix: PREFIX, commandTimeoutMs: 2_000, logger });
  await connectRedis(redis);
  verifier = new TokenVerifier({ jwksUrl: issuer.jwksUrl, issuer: issuer.issuer, audience: issuer.audience, redis, logger });
  await verifier.start();

  const metrics = createMetrics({ defaultMetrics: false });
  app = await createHttpApp({ logger, metrics, trustedProxies: [], readiness: new Map() });
  // The order the runner uses: authentication, then the rate limiter (preHandler) keyed by getUserId.
  registerAuth(app, verifier);
  const limiter = new RateLimiter({ redis, metrics, presets: [...Object.values(BUILTIN_PRESETS), { name: 'per-user', limit: 2, windowMs: 60_000, identity: 'user', failMode: 'open' }] });
  registerRateLimit(app, limiter, { getUserId });
  await registerService(app, 'demo', (scope) => {
    const echo = async (req: { identity: AuthIdentity | undefined }) => ({ identity: req.identity ?? null });
    scope.get('/api/v1/demo/public', echo);
    scope.get('/api/v1/demo/me', { config: { auth: 'required' } }, echo);
    scope.get('/api/v1/demo/maybe', { config: { auth: 'optional' } }, echo);
    scope.get('/api/v1/demo/moderation', { config: { auth: 'moderator' } }, echo);
    scope.get('/api/v1/demo/admin', { config: { auth: 'admin' } }, echo);
    scope.get('/api/v1/demo/limited', { config: { auth: 'required', rateLimit: 'per-user' } }, echo);
    scope.post('/api/v1/demo/items', { config: { auth: 'required' }, schema: { body: Type.Object({ name: Type.String({ minLength: 1 }) }) } }, echo);
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await verifier?.stop();
  await issuer?.close();
  const raw = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await raw.connect();
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await raw.del(...keys);
  } while (cursor !== '0');
  raw.disconnect();
  redis?.disconnect();
});

const get = (url: string, authorization?: string) => app.inject({ method: 'GET', url, headers: authorization === undefined ? {} : { authorization } });

describe('registerAuth', () => {
  it("'required': 401 with a Bearer challenge without a token, the identity with one", async () => {
    const res = await get('/api/v1/demo/me');
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.json().error).toMatchObject({ code: 'UNAUTHENTICATED', message: 'authentication required' });
    expect(res.headers['x-request-id']).toBeTruthy();

    const sub = randomUUID();
    const ok = await get('/api/v1/demo/me', `Bearer ${await issuer.sign({ sub, role: 'user' })}`);
    expect(ok.statusCode).toBe(200);
    expect(ok.json().identity).toMatchObject({ userId: sub, role: 'user' });
  });

  it("'required': an invalid token is 401 invalid_token with the generic message only", async () => {
    const cases = [
      `Bearer ${await issuer.sign({ exp: Math.floor(Date.now() / 1000) - 120, iat: Math.floor(Date.now() / 1000) - 900, nbf: Math.floor(Date.now() / 1000) - 900 })}`,
      `Bearer ${await issuer.sign({ token_type: 'refresh' })}`,
      'Bearer not.a.token',
      'Basic dXNlcjpwYXNz',
      'Bearer',
      'Bearer a b',
    ];
    for (const authorization of cases) {
      const res = await get('/api/v1/demo/me', authorization);
      expect(res.statusCode, authorization).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
      expect(res.json().error).toEqual({ code: 'UNAUTHENTICATED', message: 'invalid or expired token', request_id: expect.any(String) });
    }
  });

  it('accepts the scheme in any case and extra spaces', async () => {
    const token = await issuer.sign();
    for (const authorization of [`bearer ${token}`, `BEARER ${token}`, `Bearer   ${token}`, `Bearer ${token} `]) {
      expect((await get('/api/v1/demo/me', authorization)).statusCode, authorization).toBe(200);
    }
  });

  it('never takes a token from the query string', async () => {
    const token = await issuer.sign();
    for (const q of ['access_token', 'token', 'authorization', 'jwt']) {
      const res = await get(`/api/v1/demo/me?${q}=${token}`);
      expect(res.statusCode).toBe(401);
      expect((await get(`/api/v1/demo/maybe?${q}=${token}`)).json().identity).toBeNull();
    }
  });

  it("'optional': no token → no identity; valid token → identity; invalid token → 401", async () => {
    expect((await get('/api/v1/demo/maybe')).json()).toEqual({ identity: null });
    const sub = randomUUID();
    expect((await get('/api/v1/demo/maybe', `Bearer ${await issuer.sign({ sub })}`)).json().identity.userId).toBe(sub);
    const bad = await get('/api/v1/demo/maybe', `Bearer ${await issuer.sign({ aud: 'elsewhere' })}`);
    expect(bad.statusCode).toBe(401);
    expect(bad.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  });

  it('a public route carries no identity, whatever header it gets', async () => {
    const res = await get('/api/v1/demo/public', `Bearer ${await issuer.sign()}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ identity: null });
    expect((await get('/api/v1/demo/public', 'Bearer junk')).statusCode).toBe(200);
  });

  it("'moderator' and 'admin' check the role (admin ⊇ moderator): 403 FORBIDDEN when too low, 401 without a token", async () => {
    const tokens = { user: await issuer.sign({ role: 'user' }), moderator: await issuer.sign({ role: 'moderator' }), admin: await issuer.sign({ role: 'admin' }) };
    const expected = {
      '/api/v1/demo/moderation': { user: 403, moderator: 200, admin: 200 },
      '/api/v1/demo/admin': { user: 403, moderator: 403, admin: 200 },
    };
    for (const [url, byRole] of Object.entries(expected)) {
      for (const [role, status] of Object.entries(byRole)) {
        const res = await get(url, `Bearer ${tokens[role as keyof typeof tokens]}`);
        expect(res.statusCode, `${role} on ${url}`).toBe(status);
        if (status === 403) expect(res.json().error.code).toBe('FORBIDDEN');
      }
      expect((await get(url)).statusCode).toBe(401);
    }
  });

  it('refuses before reading the body', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/demo/items', payload: { wrong: true } });
    expect(res.statusCode).toBe(401);
    const ok = await app.inject({ method: 'POST', url: '/api/v1/demo/items', payload: { name: 'x' }, headers: { authorization: `Bearer ${await issuer.sign()}` } });
    expect(ok.statusCode).toBe(200);
  });

  it('a revoked session is refused (401)', async () => {
    const sid = randomUUID();
    const authorization = `Bearer ${await issuer.sign({ sid })}`;
    expect((await get('/api/v1/demo/me', authorization)).statusCode).toBe(200);
    await revokeSessions(redis, PREFIX, [{ sid, until: Date.now() + 900_000 }]);
    const deadline = Date.now() + 2_000;
    while ((await get('/api/v1/demo/me', authorization)).statusCode !== 401) {
      if (Date.now() > deadline) throw new Error('revocation not enforced');
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  it('the rate limiter counts per authenticated user (getUserId)', async () => {
    const alice = `Bearer ${await issuer.sign({ sub: randomUUID() })}`;
    const bob = `Bearer ${await issuer.sign({ sub: randomUUID() })}`;
    expect((await get('/api/v1/demo/limited', alice)).statusCode).toBe(200);
    expect((await get('/api/v1/demo/limited', alice)).statusCode).toBe(200);
    expect((await get('/api/v1/demo/limited', alice)).statusCode).toBe(429);
    const res = await get('/api/v1/demo/limited', bob);
    expect(res.statusCode).toBe(200);
    expect(res.headers['ratelimit-remaining']).toBe('1');
  });

  it('documents bearer security in the OpenAPI document', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.paths['/api/v1/demo/me'].get.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/api/v1/demo/maybe'].get.security).toEqual([{ bearerAuth: [] }, {}]);
    expect(doc.paths['/api/v1/demo/public'].get.security).toBeUndefined();
    expect(doc.paths['/api/v1/demo/me'].get.tags).toEqual(['demo']);
  });

  it('an unknown auth mode fails when the route is added', async () => {
    const other = await createHttpApp({ logger, metrics: createMetrics({ defaultMetrics: false }), trustedProxies: [], readiness: new Map() });
    registerAuth(other, verifier);
    expect(() => other.get('/x', { config: { auth: 'requried' as 'required' } }, async () => ({}))).toThrow(/unknown auth mode/);
    await other.close();
  });
});

// A JSON-coded unary service, enough to call through a real grpc-js channel without a .proto.
const json = { serialize: (v: unknown) => Buffer.from(JSON.stringify(v)), deserialize: (b: Buffer) => JSON.parse(b.toString()) as unknown };
const WhoAmIService: grpc.ServiceDefinition = {
  whoAmI: { path: '/nova.test.v1.Identity/WhoAmI', requestStream: false, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize },
  banUser: { path: '/nova.test.v1.Identity/BanUser', requestStream: false, responseStream: false, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize },
};
type Callback = (err: grpc.ServiceError | null, res?: Record<string, unknown>) => void;
interface WhoAmIClient extends grpc.Client {
  whoAmI(req: object, metadata: grpc.Metadata, cb: Callback): grpc.ClientUnaryCall;
  banUser(req: object, metadata: grpc.Metadata, cb: Callback): grpc.ClientUnaryCall;
}

describe('gRPC', () => {
  let server: GrpcServer;
  let client: WhoAmIClient;

  beforeAll(async () => {
    server = createGrpcServer({ appEnv: 'test', tls: { enabled: false, requireClientCert: false }, logger, metrics: createMetrics({ defaultMetrics: false }), serviceLabel: 'test' });
    server.addService(WhoAmIService, {
      // Two styles: the helper inside a handler, and the wrapper.
      whoAmI: (call: grpc.ServerUnaryCall<object, object>, cb: grpc.sendUnaryData<object>) => {
        authenticateCall(verifier, call).then(
          (identity) => cb(null, { userId: identity.userId, role: identity.role }),
          (err: Error) => cb(err as grpc.ServiceError),
        );
      },
      banUser: authenticatedUnary<{ id: string }, object>(verifier, async (req, identity) => ({ banned: req.id, by: identity.userId }), { role: 'moderator' }),
    });
    const port = await server.listen('127.0.0.1', 0);
    const Ctor = grpc.makeGenericClientConstructor(WhoAmIService, 'Identity');
    client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as WhoAmIClient;
  });

  afterAll(async () => {
    client?.close();
    await server?.shutdown(100);
  });

  const call = (method: 'whoAmI' | 'banUser', metadata: grpc.Metadata, req: object = {}) =>
    new Promise<{ err: grpc.ServiceError | null; res?: Record<string, unknown> }>((resolve) => client[method](req, metadata, (err, res) => resolve({ err, res })));

  it('authenticateCall reads the bearer token from metadata (bearerMetadata on the client side)', async () => {
    const sub = randomUUID();
    const { err, res } = await call('whoAmI', bearerMetadata(await issuer.sign({ sub, role: 'admin' })));
    expect(err).toBeNull();
    expect(res).toEqual({ userId: sub, role: 'admin' });
  });

  it('refuses a call without a token or with an invalid one as UNAUTHENTICATED', async () => {
    const none = await call('whoAmI', new grpc.Metadata());
    expect(none.err?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(none.err?.details).toBe('authentication required');
    const refresh = await call('whoAmI', bearerMetadata(await issuer.sign({ token_type: 'refresh' })));
    expect(refresh.err?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(refresh.err?.details).toBe('invalid or expired token');
    const md = new grpc.Metadata();
    md.set('authorization', `Basic ${Buffer.from('a:b').toString('base64')}`);
    expect((await call('whoAmI', md)).err?.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('authenticatedUnary checks the role: PERMISSION_DENIED when too low', async () => {
    const user = await call('banUser', bearerMetadata(await issuer.sign({ role: 'user' })), { id: 'x' });
    expect(user.err?.code).toBe(grpc.status.PERMISSION_DENIED);
    const sub = randomUUID();
    const mod = await call('banUser', bearerMetadata(await issuer.sign({ sub, role: 'moderator' })), { id: 'x' });
    expect(mod.err).toBeNull();
    expect(mod.res).toEqual({ banned: 'x', by: sub });
  });

  it('bearerMetadata refuses something that is not a token', () => {
    expect(() => bearerMetadata('a b')).toThrow(TypeError);
    expect(() => bearerMetadata('')).toThrow(TypeError);
  });
});
