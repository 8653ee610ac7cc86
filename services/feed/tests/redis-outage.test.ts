import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@nova/testing';
import { startFeed, type FeedHarness } from './support.js';

/**
 * The platform of this file talks to a Redis of its own (a child redis-server), so the test can stop it and
 * start it again empty without touching the Redis every other test file shares.
 */
let h: FeedHarness;
let port: number;
let server: ChildProcess | undefined;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

async function startRedis(): Promise<void> {
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await eventually(async () => {
    const { Redis } = await import('ioredis');
    const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return (await c.ping()) === 'PONG';
    } finally {
      c.disconnect();
    }
  }, 'redis-server to start');
}

async function stopRedis(): Promise<void> {
  const s = server;
  server = undefined;
  if (!s || s.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    s.once('exit', () => resolve());
    s.kill('SIGKILL');
  });
}

beforeAll(async () => {
  port = await freePort();
  await startRedis();
  h = await startFeed({ REDIS_URL: `redis://127.0.0.1:${port}` });
});
afterAll(async () => {
  await h?.stop();
  await stopRedis();
});


describe('when Redis is down or empty', () => {
  it('serves the same feed from PostgreSQL while Redis is down, then rebuilds the lost timelines once it is back empty', async () => {
    const author = await h.newUser();
    const other = await h.newUser();
    const r = await h.reader(author, other);
    const first = await h.post(author);
    const second = await h.post(other);
    await h.fannedOut(first);
    await h.fannedOut(second);
    const cached = await h.feedIds(r, 'latest');
    expect(cached).toEqual([second, first]);
    const ranked = await h.feed(r);

    await stopRedis();
    // Still served (no error, not empty), from PostgreSQL, in both modes.
    expect(await h.feedIds(r, 'latest')).toEqual(cached);
    const fromDb = await h.feed(r);
    expect(fromDb.items.map((i) => i.post.id).sort()).toEqual(ranked.items.map((i) => i.post.id).sort());
    // A post made during the outage reaches the read model, so the database-built feed has it.
    const during = await h.post(author);
    await h.projected(during);
    expect(await h.feedIds(r, 'latest')).toEqual([during, second, first]);
    // Its fan-out could not complete, so no FeedUpdated claims it did (the consumer retries it later).
    expect(await h.outboxEvents('FeedUpdated', during)).toEqual([]);

    await startRedis();
    // Redis came back with nothing: the first read rebuilds the timeline from PostgreSQL instead of showing a partial one.
    await eventually(async () => (await h.api('GET', '/ready')).status === 200, 'readiness with Redis back', 15_000, 250);
    expect(await h.feedIds(r, 'latest')).toEqual([during, second, first]);
  });

  it('pages a ranked feed from a snapshot kept in PostgreSQL while Redis is down', async () => {
    await stopRedis();
    try {
      const author = await h.newUser();
      const r = await h.newUser();
      await h.follow(r, author);
      await h.followProjected(r, author);
      const posts: string[] = [];
      for (let i = 0; i < 5; i += 1) posts.push(await h.post(author));
      for (const p of posts) await h.projected(p);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await h.feed(r, { limit: 2, ...(cursor ? { cursor } : {}) });
        seen.push(...page.items.map((i) => i.post.id));
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      expect(seen.sort()).toEqual([...posts].sort());
    } finally {
      await startRedis();
    }
  });
});
