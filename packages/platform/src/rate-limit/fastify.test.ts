import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicDetails, publicMessage, toAppError } from '../errors/app-error.js';
import { createLogger } from '../logging/logger.js';
import { connectRedis, createRedis } from '../redis/client.js';
import { registerRateLimit, rateLimitHook } from './fastify.js';
import { RateLimiter } from './limiter.js';
import { BUILTIN_PRESETS } from './presets.js';

// HTTP behaviour through Fastify inject against the real Redis, under this file's own key prefix.
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `t:rl:${randomBytes(5).toString('hex')}:`;
const TRUSTED = ['10.0.0.0/8', '2001:db8:ffff::/48'];

let redis: Redis;
let limiter: RateLimiter;
let app: FastifyInstance;

/** The shape of the global error handler in http/app.ts: code → status, err.headers applied. */
function installErrorHandler(a: FastifyInstance): void {
  a.setErrorHandler((err, req, reply) => {
    const e = toAppError(err);
    if (e.headers) reply.headers(e.headers);
    const details = publicDetails(e);
    return reply.code(e.httpStatus).send({ error: { code: e.code, message: publicMessage(e), request_id: req.id, ...(details ? { details } : {}) } });
  });
}

beforeAll(async () => {
  redis = createRedis({ url: REDIS_URL, keyPrefix: PREFIX, commandTimeoutMs: 3_000, logger: createLogger({ level: 'silent' }) });
  await connectRedis(redis);
  limiter = new RateLimiter({
    redis,
    presets: [...Object.values(BUILTIN_PRESETS), { name: 'burst', limit: 10, windowMs: 60_000, identity: 'ip', failMode: 'open' }, { name: 'short', limit: 2, windowMs: 2_000, identity: 'ip', failMode: 'open' }, { name: 'me', limit: 3, windowMs: 60_000, identity: 'user', failMode: 'open' }],
  });
  app = Fastify();
  installErrorHandler(app);
  registerRateLimit(app, limiter, { trustedProxies: TRUSTED, getUserId: (req) => req.headers['x-test-user'] as string | undefined });
  app.post('/login', { config: { rateLimit: 'auth' } }, async () => ({ ok: true }));
  app.post('/register', { config: { rateLimit: 'auth' } }, async () => ({ ok: true }));
  app.get('/api/things', { config: { rateLimit: 'api' } }, async () => ({ ok: true }));
  app.get('/burst', { config: { rateLimit: 'burst' } }, async () => ({ ok: true }));
  app.get('/short', { config: { rateLimit: 'short' } }, async () => ({ ok: true }));
  app.get('/me', { config: { rateLimit: 'me' } }, async () => ({ ok: true }));
  app.get('/free', async () => ({ ok: true }));
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  const raw = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await raw.connect();
    let cursor = '0';
    do {
      const [next, keys] = await raw.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await raw.del(...keys);
    } while (cursor !== '0');
  } finally {
    raw.disconnect();
    redis?.disconnect();
  }
});

describe('rate limit headers and refusals', () => {
  it('counts down RateLimit-* on admitted responses and answers 429 RATE_LIMITED with Retry-After', async () => {
    const remoteAddress = '198.51.100.50';
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({ method: 'POST', url: '/login', remoteAddress });
      expect(res.statusCode).toBe(200);
      expect(res.headers['ratelimit-limit']).toBe('5');
      expect(res.headers['ratelimit-remaining']).toBe(String(4 - i));
      const reset = Number(res.headers['ratelimit-reset']);
      expect(reset).toBeGreaterThanOrEqual(59);
      expect(reset).toBeLessThanOrEqual(60);
    }
    const res = await app.inject({ method: 'POST', url: '/login', remoteAddress });
    expect(res.statusCode).toBe(429);
    const retryAfter = Number(res.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.headers['ratelimit-remaining']).toBe('0');
    expect(res.headers['ratelimit-reset']).toBe(String(retryAfter));
    expect(res.json()).toEqual({ error: { code: 'RATE_LIMITED', message: 'too many requests', request_id: expect.any(String), details: { retry_after_seconds: retryAfter } } });
  });

  it('tells the truth in Retry-After: a retry after it is admitted', async () => {
    const remoteAddress = '198.51.100.51';
    await app.inject({ url: '/short', remoteAddress });
    await app.inject({ url: '/short', remoteAddress });
    const refused = await app.inject({ url: '/short', remoteAddress });
    expect(refused.statusCode).toBe(429);
    const retryAfter = Number(refused.headers['retry-after']);
    expect([1, 2]).toContain(retryAfter);
    await new Promise((r) => setTimeout(r, retryAfter * 1000 + 50));
    const retried = await app.inject({ url: '/short', remoteAddress });
    expect(retried.statusCode).toBe(200);
  });

  it('leaves routes without a preset alone', async () => {
    const res = await app.inject({ url: '/free', remoteAddress: '198.51.100.52' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['ratelimit-limit']).toBeUndefined();
  });
});

describe('client identity', () => {
  it('does not let a spoofed X-Forwarded-For from an untrusted peer change the key', async () => {
    const remoteAddress = '203.0.113.60';
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({ method: 'POST', url: '/login', remoteAddress, headers: { 'x-forwarded-for': `192.0.2.${i + 1}` } });
      expect(res.statusCode).toBe(200);
    }
    const res = await app.inject({ method: 'POST', url: '/login', remoteAddress, headers: { 'x-forwarded-for': '192.0.2.99' } });
    expect(res.statusCode).toBe(429);
    expect(await redis.zcard(`rl:auth:ip:${remoteAddress}`)).toBe(5);
    expect(await redis.exists('rl:auth:ip:192.0.2.1')).toBe(0);
  });

  it('believes X-Forwarded-For through a trusted proxy, including an IPv4-mapped proxy address', async () => {
    const client = '198.51.100.61';
    for (let i = 0; i < 5; i++) {
      const peer = i % 2 === 0 ? '10.0.0.2' : '::ffff:10.0.0.3';
      const res = await app.inject({ method: 'POST', url: '/login', remoteAddress: peer, headers: { 'x-forwarded-for': client } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['ratelimit-remaining']).toBe(String(4 - i));
    }
    // The client prepending its own entries through the proxy still lands on its real address.
    const spoof = await app.inject({ method: 'POST', url: '/login', remoteAddress: '10.0.0.2', headers: { 'x-forwarded-for': `1.2.3.4, ${client}` } });
    expect(spoof.statusCode).toBe(429);
    expect(await redis.zcard(`rl:auth:ip:${client}`)).toBe(5);
    // Another client behind the same proxy has its own budget; the proxy itself was never counted.
    const other = await app.inject({ method: 'POST', url: '/login', remoteAddress: '10.0.0.2', headers: { 'x-forwarded-for': '198.51.100.62' } });
    expect(other.statusCode).toBe(200);
    expect(await redis.exists('rl:auth:ip:10.0.0.2')).toBe(0);
  });

  it('keys the api preset by user when authenticated and by IP otherwise; a user preset needs a user', async () => {
    const remoteAddress = '198.51.100.63';
    const alice = await app.inject({ url: '/api/things', remoteAddress, headers: { 'x-test-user': 'alice' } });
    const alice2 = await app.inject({ url: '/api/things', remoteAddress, headers: { 'x-test-user': 'alice' } });
    const bob = await app.inject({ url: '/api/things', remoteAddress, headers: { 'x-test-user': 'bob' } });
    const anon = await app.inject({ url: '/api/things', remoteAddress });
    expect([alice, alice2, bob, anon].map((r) => r.headers['ratelimit-remaining'])).toEqual(['99', '98', '99', '99']);
    expect(await redis.zcard('rl:api:u:alice')).toBe(2);
    expect(await redis.zcard(`rl:api:ip:${remoteAddress}`)).toBe(1);

    const noUser = await app.inject({ url: '/me', remoteAddress });
    expect(noUser.statusCode).toBe(401);
    expect(noUser.json().error.code).toBe('UNAUTHENTICATED');
    const withUser = await app.inject({ url: '/me', remoteAddress, headers: { 'x-test-user': 'carol' } });
    expect(withUser.headers['ratelimit-remaining']).toBe('2');
  });

  it('keeps presets apart: exhausting auth leaves api and public untouched for the same client', async () => {
    const remoteAddress = '198.51.100.64';
    for (let i = 0; i < 5; i++) await app.inject({ method: 'POST', url: '/register', remoteAddress });
    // login and register share the auth preset, so one budget covers both.
    expect((await app.inject({ method: 'POST', url: '/login', remoteAddress })).statusCode).toBe(429);
    const api = await app.inject({ url: '/api/things', remoteAddress });
    expect(api.statusCode).toBe(200);
    expect(api.headers['ratelimit-limit']).toBe('100');
    expect(api.headers['ratelimit-remaining']).toBe('99');
  });
});

describe('concurrency', () => {
  it('admits exactly 10 of 50 parallel requests with limit 10', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => app.inject({ url: '/burst', remoteAddress: '198.51.100.70' })));
    const codes = results.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 200)).toHaveLength(10);
    expect(codes.filter((c) => c === 429)).toHaveLength(40);
  });
});

describe('wiring', () => {
  it('refuses an unknown preset when the route is added', async () => {
    const a = Fastify();
    registerRateLimit(a, limiter);
    expect(() => a.get('/x', { config: { rateLimit: 'nope' } }, async () => 'x')).toThrow(/unknown rate limit preset "nope"/);
    await a.close();
    expect(() => rateLimitHook(limiter, 'nope')).toThrow(/unknown rate limit preset/);
    expect(() => registerRateLimit(Fastify(), limiter, { defaultPreset: 'nope' })).toThrow(/unknown rate limit preset/);
  });

  it('works as a per-route onRequest hook and as a default preset with per-route opt-out', async () => {
    const a = Fastify();
    installErrorHandler(a);
    a.get('/hooked', { onRequest: rateLimitHook(limiter, 'short') }, async () => 'ok');
    await a.register(async (scope) => {
      registerRateLimit(scope, limiter, { defaultPreset: 'burst', hook: 'onRequest' });
      scope.get('/defaulted', async () => 'ok');
      scope.get('/exempt', { config: { rateLimit: false } }, async () => 'ok');
    });
    await a.ready();
    try {
      const remoteAddress = '198.51.100.80';
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) codes.push((await a.inject({ url: '/hooked', remoteAddress })).statusCode);
      expect(codes).toEqual([200, 200, 429]);
      expect((await a.inject({ url: '/defaulted', remoteAddress })).headers['ratelimit-limit']).toBe('10');
      expect((await a.inject({ url: '/exempt', remoteAddress })).headers['ratelimit-limit']).toBeUndefined();
    } finally {
      await a.close();
    }
  });
});
