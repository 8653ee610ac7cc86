import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@nova/testing';
import { startFeed, type FeedHarness, type TestUser } from './support.js';

let h: FeedHarness;
let redis: Redis;
beforeAll(async () => {
  h = await startFeed();
  redis = new Redis(h.platform.config.REDIS_URL, { keyPrefix: h.platform.config.REDIS_KEY_PREFIX });
});
afterAll(async () => {
  redis?.disconnect();
  await h?.stop();
});

/** A reader following two authors who have posted `n` posts between them (all fanned out). */
async function setup(n: number): Promise<{ r: TestUser; authors: TestUser[]; posts: string[] }> {
  const authors = [await h.newUser(), await h.newUser()];
  const r = await h.newUser();
  for (const a of authors) {
    await h.follow(r, a);
    await h.followProjected(r, a);
  }
  await h.feed(r);
  const posts: string[] = [];
  for (let i = 0; i < n; i += 1) posts.push(await h.post(authors[i % 2]!));
  for (const p of posts) await h.fannedOut(p);
  return { r, authors, posts };
}

describe('feed pagination', () => {
  for (const mode of ['ranked', 'latest'] as const) {
    it(`${mode}: pages never repeat or skip a post while new posts arrive and scores move`, async () => {
      const { r, authors, posts } = await setup(17);
      const liker = await h.newUser();
      const seen: string[] = [];
      let cursor: string | undefined;
      let round = 0;
      do {
        const page = await h.feed(r, { mode, limit: 4, ...(cursor ? { cursor } : {}) });
        seen.push(...page.items.map((i) => i.post.id));
        cursor = page.next_cursor ?? undefined;
        // Between pages: a new post arrives and an older post gains likes (its score rises).
        const fresh = await h.post(authors[round % 2]!);
        await h.fannedOut(fresh);
        await h.api('POST', `/api/v1/posts/${posts[round]!}/like`, { token: liker.token });
        round += 1;
      } while (cursor && round < 20);
      expect(new Set(seen).size).toBe(seen.length);
      expect([...seen].sort()).toEqual([...posts].sort());
      if (mode === 'latest') expect(seen).toEqual([...posts].reverse());
    });
  }

  it('ranked: a cursor whose snapshot expired answers 410 GONE, and another reader cannot use it', async () => {
    const { r } = await setup(5);
    const first = await h.feed(r, { limit: 2 });
    expect(first.next_cursor).not.toBeNull();
    const other = await h.newUser();
    const foreign = await h.api('GET', `/api/v1/feed?limit=2&cursor=${first.next_cursor}`, { token: other.token });
    expect(foreign.status).toBe(410);
    const keys = await redis.keys(`${h.platform.config.REDIS_KEY_PREFIX}feed:snap:${r.id}:*`);
    expect(keys.length).toBe(1);
    await redis.del(keys[0]!.slice(h.platform.config.REDIS_KEY_PREFIX.length));
    const res = await h.api('GET', `/api/v1/feed?limit=2&cursor=${first.next_cursor}`, { token: r.token });
    expect(res.status).toBe(410);
    expect(res.body.error).toMatchObject({ code: 'GONE', details: { reason: 'cursor_expired' } });
  });

  it("ranked: puts an author the reader engages with above a newer post of an author they ignore", async () => {
    const { r, authors } = await setup(0);
    const [liked, ignored] = authors as [TestUser, TestUser];
    const warmup = await h.post(liked);
    await h.fannedOut(warmup);
    expect((await h.api('POST', `/api/v1/posts/${warmup}/like`, { token: r.token })).status).toBeLessThan(300);
    await eventually(async () => (await h.db.selectFrom('affinity').select('likes').where('viewer_id', '=', r.id).where('author_id', '=', liked.id).executeTakeFirst())?.likes === 1, 'the like to count as affinity');
    const older = await h.post(liked);
    const newer = await h.post(ignored);
    await h.fannedOut(older);
    await h.fannedOut(newer);
    expect((await h.feedIds(r, 'latest')).slice(0, 2)).toEqual([newer, older]);
    const page = await h.feed(r);
    const order = page.items.map((i) => i.post.id);
    expect(order.indexOf(older)).toBeLessThan(order.indexOf(newer));
    expect(page.items.find((i) => i.post.id === older)!.score).toBeGreaterThan(page.items.find((i) => i.post.id === newer)!.score);
  });
});

describe('feed pagination within one millisecond', () => {
  it('latest: pages through more entries than a page reads that entered in the same millisecond', async () => {
    const { r, posts } = await setup(45);
    // Every entry now has the same entry time (a millisecond after all of them were created).
    const key = `feed:tl:${r.id}`;
    const at = Date.now() + 1_000;
    for (const p of posts) expect(await redis.zadd(key, 'XX', 'CH', at, p)).toBe(1);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await h.feed(r, { mode: 'latest', limit: 10, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((i) => i.post.id));
      cursor = page.next_cursor ?? undefined;
      pages += 1;
    } while (cursor && pages < 20);
    expect(pages).toBeLessThan(20);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...posts].sort());
  });
});

describe('feed pagination past hidden posts', () => {
  it('latest: keeps a cursor through a stretch of posts the reader may not see, and reaches the older visible ones', async () => {
    const { r, authors, posts } = await setup(1);
    const [visible] = posts as [string];
    // The visible post is the first author's; the second then posts 15 times, and the reader mutes them.
    const muted = authors[1]!;
    const hidden: string[] = [];
    for (let i = 0; i < 15; i += 1) hidden.push(await h.post(muted));
    for (const p of hidden) await h.fannedOut(p);
    await h.mute(r, muted);
    await eventually(async () => (await h.db.selectFrom('mutes').select('muted_id').where('muter_id', '=', r.id).executeTakeFirst()) !== undefined, 'the mute in the read model');
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await h.feed(r, { mode: 'latest', limit: 1, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((i) => i.post.id));
      cursor = page.next_cursor ?? undefined;
      pages += 1;
    } while (cursor && pages < 20);
    expect(seen).toEqual([visible]);
  });
});
