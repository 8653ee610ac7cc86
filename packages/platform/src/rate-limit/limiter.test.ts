import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../logging/logger.js';
import { createMetrics } from '../metrics/metrics.js';
import { connectRedis, createRedis } from '../redis/client.js';
import { benchRateLimiter } from './bench.js';
import { RateLimiter, type CountedDecision, type RateLimitDecision } from './limiter.js';
import type { RateLimitPreset } from './presets.js';

// Integration tests against the real Redis; every key lives under this file's own prefix.
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `t:rl:${randomBytes(5).toString('hex')}:`;
const logger = createLogger({ level: 'silent' });
const clients: Redis[] = [];

async function client(): Promise<Redis> {
  const c = createRedis({ url: REDIS_URL, keyPrefix: PREFIX, commandTimeoutMs: 3_000, logger });
  clients.push(c);
  await connectRedis(c);
  return c;
}

const preset = (name: string, limit: number, windowMs: number, extra: Partial<RateLimitPreset> = {}): RateLimitPreset => ({
  name,
  limit,
  windowMs,
  identity: 'ip',
  failMode: 'open',
  ...extra,
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

async function redisNowMs(redis: Redis): Promise<number> {
  const [s, us] = (await redis.time()) as unknown as [string | number, string | number];
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

function counted(d: RateLimitDecision): CountedDecision {
  if (d.outcome !== 'allowed' && d.outcome !== 'rejected') throw new Error(`redis did not decide: ${String((d as { error?: unknown }).error)}`);
  return d as CountedDecision;
}

let redis: Redis;

beforeAll(async () => {
  redis = await client();
});

afterAll(async () => {
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
    for (const c of clients) c.disconnect();
  }
});

describe('sliding window', () => {
  it('admits the next request exactly when the oldest one leaves the window, and only one', async () => {
    const W = 2_000;
    const limiter = new RateLimiter({ redis, presets: [preset('slide', 3, W)] });
    const who = { ip: '198.51.100.10' };

    const first = counted(await limiter.check('slide', who));
    expect(first).toMatchObject({ outcome: 'allowed', remaining: 2, limit: 3 });
    expect(first.resetMs).toBe(W);
    await sleep(700);
    expect(counted(await limiter.check('slide', who))).toMatchObject({ outcome: 'allowed', remaining: 1 });
    expect(counted(await limiter.check('slide', who))).toMatchObject({ outcome: 'allowed', remaining: 0 });

    // The 4th is refused until the first request is W old: about 1300 ms from now.
    const refused = counted(await limiter.check('slide', who));
    expect(refused).toMatchObject({ outcome: 'rejected', allowed: false, remaining: 0 });
    expect(refused.resetMs).toBeGreaterThan(1_000);
    expect(refused.resetMs).toBeLessThanOrEqual(1_300);

    // 400 ms before that moment: still refused, and the server says so with ~400 ms to go.
    await sleep(refused.resetMs - 400);
    const justBefore = counted(await limiter.check('slide', who));
    expect(justBefore.outcome).toBe('rejected');
    expect(justBefore.resetMs).toBeGreaterThan(0);
    expect(justBefore.resetMs).toBeLessThanOrEqual(400);

    // 100 ms after it: admitted; the two later requests (~600 ms younger) still count.
    await sleep(justBefore.resetMs + 100);
    const justAfter = counted(await limiter.check('slide', who));
    expect(justAfter).toMatchObject({ outcome: 'allowed', remaining: 0 });

    // Only one slot freed: the very next request waits for the second-oldest one (~600 ms away).
    const next = counted(await limiter.check('slide', who));
    expect(next.outcome).toBe('rejected');
    expect(next.resetMs).toBeGreaterThan(0);
    expect(next.resetMs).toBeLessThanOrEqual(700);
  });

  it('limits a burst that straddles a fixed-window boundary, which a fixed window would let through twice', async () => {
    const W = 2_000;
    const LIMIT = 3;
    const limiter = new RateLimiter({ redis, presets: [preset('edge', LIMIT, W)] });
    const who = { ip: '198.51.100.11' };
    const id = randomBytes(3).toString('hex');
    // The fixed-window counter a naive limiter uses (INCR per clock-aligned window), for contrast.
    const fixedWindow = async (): Promise<boolean> => {
      const key = `fw:${id}:${Math.floor((await redisNowMs(redis)) / W)}`;
      const n = await redis.incr(key);
      await redis.pexpire(key, W);
      return n <= LIMIT;
    };
    const burst = async () => {
      let sliding = 0;
      let fixed = 0;
      for (let i = 0; i < LIMIT; i++) {
        if ((await limiter.check('edge', who)).allowed) sliding++;
        if (await fixedWindow()) fixed++;
      }
      return { sliding, fixed };
    };

    // First burst 600 ms before a window boundary (by Redis's clock), second 200 ms after it.
    const phase = (await redisNowMs(redis)) % W;
    await sleep((W - 600 - phase + W) % W);
    const before = await burst();
    const now = (await redisNowMs(redis)) % W;
    await sleep(W - now + 200);
    const after = await burst();

    expect(before).toEqual({ sliding: 3, fixed: 3 });
    expect(after.fixed).toBe(3); // fixed window: 6 requests in well under a second
    expect(after.sliding).toBe(0); // sliding window: still 3 per any 2 s
  });

  it('does not record refused requests, so a client hammering while limited is not locked out', async () => {
    const W = 1_500;
    const limiter = new RateLimiter({ redis, presets: [preset('hammer', 2, W)] });
    const who = { ip: '198.51.100.12' };
    expect((await limiter.check('hammer', who)).allowed).toBe(true);
    expect((await limiter.check('hammer', who)).allowed).toBe(true);
    let refused: CountedDecision | undefined;
    for (let i = 0; i < 20; i++) {
      refused = counted(await limiter.check('hammer', who));
      expect(refused.outcome).toBe('rejected');
      await sleep(30);
    }
    expect(await redis.zcard(limiter.keyFor('hammer', who))).toBe(2);
    await sleep(refused!.resetMs + 100);
    expect((await limiter.check('hammer', who)).allowed).toBe(true);
  });

  it('expires an idle key one window after its newest admission', async () => {
    const limiter = new RateLimiter({ redis, presets: [preset('ttl', 5, 800)] });
    const who = { ip: '198.51.100.13' };
    await limiter.check('ttl', who);
    const ttl = await redis.pttl(limiter.keyFor('ttl', who));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(800);
  });
});

describe('keys', () => {
  it('counts each preset and each identity separately, by user id when the preset allows it', async () => {
    const limiter = new RateLimiter({
      redis,
      presets: [preset('a', 2, 60_000), preset('b', 2, 60_000), preset('mixed', 2, 60_000, { identity: 'user-or-ip' }), preset('users', 2, 60_000, { identity: 'user' })],
    });
    const ip = '198.51.100.20';
    await limiter.check('a', { ip });
    await limiter.check('a', { ip });
    expect((await limiter.check('a', { ip })).allowed).toBe(false);
    expect(counted(await limiter.check('b', { ip }))).toMatchObject({ allowed: true, remaining: 1 });

    // user-or-ip: two users behind one address each get their own budget; anonymous falls back to the IP.
    expect(limiter.keyFor('mixed', { ip, userId: 'u1' })).toBe('rl:mixed:u:u1');
    expect(limiter.keyFor('mixed', { ip })).toBe(`rl:mixed:ip:${ip}`);
    expect(limiter.keyFor('a', { ip, userId: 'u1' })).toBe(`rl:a:ip:${ip}`);
    await limiter.check('mixed', { ip, userId: 'u1' });
    await limiter.check('mixed', { ip, userId: 'u1' });
    expect((await limiter.check('mixed', { ip, userId: 'u1' })).allowed).toBe(false);
    expect(counted(await limiter.check('mixed', { ip, userId: 'u2' })).remaining).toBe(1);
    expect(counted(await limiter.check('mixed', { ip })).remaining).toBe(1);

    await expect(limiter.check('users', { ip })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(limiter.check('nope', { ip })).rejects.toThrow(/unknown rate limit preset "nope"/);
  });

  it('counts an IPv6 client by its /64 and a dual-stack IPv4 client once', async () => {
    const limiter = new RateLimiter({ redis, presets: [preset('v6', 10, 60_000)] });
    expect(limiter.keyFor('v6', { ip: '2001:DB8:1:2::1' })).toBe('rl:v6:ip:2001:db8:1:2::/64');
    expect(counted(await limiter.check('v6', { ip: '2001:db8:1:2::1' })).remaining).toBe(9);
    expect(counted(await limiter.check('v6', { ip: '2001:db8:1:2:ffff::9' })).remaining).toBe(8);
    expect(counted(await limiter.check('v6', { ip: '2001:db8:1:3::1' })).remaining).toBe(9);
    expect(counted(await limiter.check('v6', { ip: '198.51.100.21' })).remaining).toBe(9);
    expect(counted(await limiter.check('v6', { ip: '::ffff:198.51.100.21' })).remaining).toBe(8);
    const exact = new RateLimiter({ redis, presets: [preset('v6', 10, 60_000)], ipv6SubnetBits: 128 });
    expect(exact.keyFor('v6', { ip: '2001:db8:1:2::1' })).toBe('rl:v6:ip:2001:db8:1:2::1');
  });

  it('reset forgets an identity', async () => {
    const limiter = new RateLimiter({ redis, presets: [preset('r', 1, 60_000)] });
    const who = { ip: '198.51.100.22' };
    await limiter.check('r', who);
    expect((await limiter.check('r', who)).allowed).toBe(false);
    await limiter.reset('r', who);
    expect((await limiter.check('r', who)).allowed).toBe(true);
  });
});

describe('concurrency', () => {
  it('admits exactly the limit out of 50 parallel requests spread over 5 connections (replicas)', async () => {
    const conns = await Promise.all(Array.from({ length: 5 }, () => client()));
    const limiters = conns.map((c) => new RateLimiter({ redis: c, presets: [preset('par', 10, 60_000)] }));
    const who = { ip: '198.51.100.30' };
    const decisions = await Promise.all(Array.from({ length: 50 }, (_, i) => limiters[i % 5]!.check('par', who)));
    expect(decisions.filter((d) => d.outcome === 'allowed')).toHaveLength(10);
    expect(decisions.filter((d) => d.outcome === 'rejected')).toHaveLength(40);
    expect(await redis.zcard(limiters[0]!.keyFor('par', who))).toBe(10);
    // Every admission got its own member, and `remaining` counted down 9..0 without repeats.
    const remaining = decisions.filter((d): d is CountedDecision => d.outcome === 'allowed').map((d) => d.remaining);
    expect(remaining.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('metrics', () => {
  it('counts decisions by outcome and rejections by reason', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const limiter = new RateLimiter({ redis, metrics, presets: [preset('m', 2, 60_000)] });
    for (let i = 0; i < 5; i++) await limiter.check('m', { ip: '198.51.100.40' });
    const requests = await metrics.rateLimitRequests.get();
    const rejections = await metrics.rateLimitRejections.get();
    const value = (vals: { labels: Record<string, unknown>; value: number }[], labels: Record<string, string>) =>
      vals.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
    expect(value(requests.values, { preset: 'm', outcome: 'allowed' })).toBe(2);
    expect(value(requests.values, { preset: 'm', outcome: 'rejected' })).toBe(3);
    expect(value(rejections.values, { preset: 'm', reason: 'limit' })).toBe(3);
  });
});

describe('presets', () => {
  it('ships the brief\'s presets and refuses invalid ones at construction', () => {
    const limiter = new RateLimiter({ redis });
    expect(limiter.preset('auth')).toMatchObject({ limit: 5, windowMs: 60_000, identity: 'ip', failMode: 'closed' });
    expect(limiter.preset('api')).toMatchObject({ limit: 100, windowMs: 60_000, identity: 'user-or-ip', failMode: 'open' });
    expect(limiter.preset('public')).toMatchObject({ limit: 1000, windowMs: 60_000, identity: 'ip', failMode: 'open' });
    expect(() => new RateLimiter({ redis, presets: [preset('Bad Name', 0, 1.5)] })).toThrow(/name must match.*limit must be an integer >= 1.*windowMs/);
    expect(() => new RateLimiter({ redis, presets: [preset('x', 1, 1), preset('x', 2, 2)] })).toThrow(/duplicate/);
  });
});

describe('benchRateLimiter', () => {
  it('reports decisions per second and leaves no keys behind', async () => {
    const limiter = new RateLimiter({ redis, presets: [preset('bench', 50, 60_000, { identity: 'user-or-ip' })] });
    const result = await benchRateLimiter(limiter, { durationMs: 300, concurrency: 8, preset: 'bench', identities: 4 });
    expect(result.errors).toBe(0);
    expect(result.decisions).toBe(result.allowed + result.rejected);
    expect(result.allowed).toBe(Math.min(result.decisions, 4 * 50));
    expect(result.decisionsPerSecond).toBeGreaterThan(100);
    expect(result.latencyMs.p50).toBeLessThanOrEqual(result.latencyMs.p99);
    const left: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}rl:bench:*`, 'COUNT', 1000);
      cursor = next;
      left.push(...keys);
    } while (cursor !== '0');
    expect(left).toEqual([]);
  });
});
