import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicMessage, toAppError } from '../errors/app-error.js';
import { createLogger } from '../logging/logger.js';
import { createMetrics, type PlatformMetrics } from '../metrics/metrics.js';
import { connectRedis, createRedis } from '../redis/client.js';
import { registerRateLimit } from './fastify.js';
import { RateLimiter } from './limiter.js';

// Redis unreachable (closed port) or unresponsive (accepts, never answers): fail modes, promptly.
const PREFIX = `t:rl:${randomBytes(5).toString('hex')}:`;
const silent = createLogger({ level: 'silent' });
const clients: Redis[] = [];
const apps: FastifyInstance[] = [];
let blackHole: Server;
const held: Socket[] = [];

async function appFor(limiter: RateLimiter): Promise<FastifyInstance> {
  const app = Fastify();
  app.setErrorHandler((err, req, reply) => {
    const e = toAppError(err);
    if (e.headers) reply.headers(e.headers);
    return reply.code(e.httpStatus).send({ error: { code: e.code, message: publicMessage(e), request_id: req.id } });
  });
  registerRateLimit(app, limiter);
  app.post('/login', { config: { rateLimit: 'auth' } }, async () => ({ ok: true }));
  app.get('/api/things', { config: { rateLimit: 'api' } }, async () => ({ ok: true }));
  await app.ready();
  apps.push(app);
  return app;
}

function sample(metrics: PlatformMetrics) {
  return async (metric: 'rateLimitRequests' | 'rateLimitRejections', labels: Record<string, string>) =>
    (await metrics[metric].get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k as keyof typeof v.labels] === x))?.value ?? 0;
}

beforeAll(async () => {
  blackHole = createServer((socket) => {
    held.push(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  for (const app of apps) await app.close();
  for (const c of clients) c.disconnect();
  for (const s of held) s.destroy();
  await new Promise<void>((resolve) => blackHole.close(() => resolve()));
});

describe('Redis refusing connections', () => {
  it('fails open for api and closed (503 RATE_LIMITER_UNAVAILABLE) for auth, without hanging', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (s: string) => void lines.push(s) } });
    const redis = createRedis({ url: 'redis://127.0.0.1:1', keyPrefix: PREFIX, commandTimeoutMs: 500, logger: silent, overrides: { maxRetriesPerRequest: 0, retryStrategy: () => 100 } });
    clients.push(redis);
    const metrics = createMetrics({ defaultMetrics: false });
    const app = await appFor(new RateLimiter({ redis, metrics, logger }));
    const value = sample(metrics);

    const started = Date.now();
    const open = await app.inject({ url: '/api/things', remoteAddress: '198.51.100.90' });
    const closed = await app.inject({ method: 'POST', url: '/login', remoteAddress: '198.51.100.90' });
    const closedAgain = await app.inject({ method: 'POST', url: '/login', remoteAddress: '198.51.100.90' });
    expect(Date.now() - started).toBeLessThan(2_000);

    expect(open.statusCode).toBe(200);
    expect(open.headers['ratelimit-limit']).toBeUndefined();
    for (const res of [closed, closedAgain]) {
      expect(res.statusCode).toBe(503);
      expect(res.json().error).toMatchObject({ code: 'RATE_LIMITER_UNAVAILABLE', message: 'rate limiting is unavailable; try again shortly' });
      expect(res.headers['retry-after']).toBeUndefined();
    }
    expect(await value('rateLimitRequests', { preset: 'api', outcome: 'error_open' })).toBe(1);
    expect(await value('rateLimitRequests', { preset: 'auth', outcome: 'error_closed' })).toBe(2);
    expect(await value('rateLimitRejections', { preset: 'auth', reason: 'unavailable' })).toBe(2);
    expect(await value('rateLimitRejections', { preset: 'api', reason: 'unavailable' })).toBe(0);
    // One warning per preset for the burst of failures, not one per request.
    const warnings = lines.map((l) => JSON.parse(l) as { msg: string; preset: string });
    expect(warnings.map((w) => [w.preset, w.msg])).toEqual([
      ['api', 'rate limiter cannot reach redis; failing open'],
      ['auth', 'rate limiter cannot reach redis; failing closed'],
    ]);
  });
});

describe('Redis accepting connections but never answering', () => {
  async function stalledClient(commandTimeoutMs: number): Promise<Redis> {
    const port = (blackHole.address() as { port: number }).port;
    // No ready check or client info: the client is ready once TCP connects, then every command waits.
    const redis = createRedis({ url: `redis://127.0.0.1:${port}`, keyPrefix: PREFIX, commandTimeoutMs, logger: silent, overrides: { enableReadyCheck: false, disableClientInfo: true, maxRetriesPerRequest: 0 } });
    clients.push(redis);
    await connectRedis(redis);
    return redis;
  }

  it('gives up after the limiter timeout and applies the fail mode', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const app = await appFor(new RateLimiter({ redis: await stalledClient(10_000), metrics, timeoutMs: 300 }));

    let started = Date.now();
    const closed = await app.inject({ method: 'POST', url: '/login', remoteAddress: '198.51.100.91' });
    let elapsed = Date.now() - started;
    expect(closed.statusCode).toBe(503);
    expect(closed.json().error.code).toBe('RATE_LIMITER_UNAVAILABLE');
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2_000);

    started = Date.now();
    const open = await app.inject({ url: '/api/things', remoteAddress: '198.51.100.91' });
    elapsed = Date.now() - started;
    expect(open.statusCode).toBe(200);
    expect(elapsed).toBeLessThan(2_000);
    expect(await sample(metrics)('rateLimitRequests', { preset: 'api', outcome: 'error_open' })).toBe(1);
  });

  it('also gives up at the Redis client\'s command timeout when that is shorter', async () => {
    const limiter = new RateLimiter({ redis: await stalledClient(300), timeoutMs: 10_000 });
    const started = Date.now();
    const d = await limiter.check('auth', { ip: '198.51.100.92' });
    expect(d.outcome).toBe('error_closed');
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect(limiter.enforce('auth', { ip: '198.51.100.92' })).rejects.toMatchObject({ code: 'RATE_LIMITER_UNAVAILABLE', httpStatus: 503 });
  });
});
