import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Timelines } from '../src/domain/timelines.js';
import { startFeed, type FeedHarness, type TestUser } from './support.js';
import { Redis } from 'ioredis';

// Authors with more than 2 followers count as heavy here (production default: more than 10,000).
let h: FeedHarness;
let redis: Redis;
beforeAll(async () => {
  h = await startFeed({ FEED_HEAVY_AUTHOR_FOLLOWERS: '2' });
  redis = new Redis(h.platform.config.REDIS_URL, { keyPrefix: h.platform.config.REDIS_KEY_PREFIX });
});
afterAll(async () => {
  redis?.disconnect();
  await h?.stop();
});

async function readers(n: number, author: TestUser): Promise<TestUser[]> {
  const out: TestUser[] = [];
  for (let i = 0; i < n; i += 1) {
    const r = await h.newUser();
    await h.follow(r, author);
    await h.followProjected(r, author);
    await h.feed(r);
    out.push(r);
  }
  return out;
}

describe('heavy authors', () => {
  it('are not fanned out: their posts are merged into each follower\'s feed at read time', async () => {
    const celebrity = await h.newUser();
    const normal = await h.newUser();
    const fans = await readers(3, celebrity);
    await h.follow(fans[0]!, normal);
    await h.followProjected(fans[0]!, normal);

    const star = await h.post(celebrity, { text: 'to my many fans' });
    const plain = await h.post(normal);
    const updated = await h.fannedOut(star);
    expect(updated.data).toMatchObject({ delivery: 'read_time' });
    await h.fannedOut(plain);

    // Not in any fan's cached timeline (only the author's own)...
    for (const fan of fans) expect(await redis.zscore(Timelines.key(fan.id), star)).toBeNull();
    expect(await redis.zscore(Timelines.key(fans[0]!.id), plain)).not.toBeNull();
    // ...yet every fan's feed has it, in both modes, merged in time order with fanned-out posts.
    for (const fan of fans) expect(await h.feedIds(fan)).toContain(star);
    expect(await h.feedIds(fans[0]!, 'latest')).toEqual([plain, star]);
  });

  it('keeps the merged posts under the same rules: a deleted or followers-only-to-others post is not shown', async () => {
    const celebrity = await h.newUser();
    const fans = await readers(3, celebrity);
    const outsider = await h.newUser();
    const gone = await h.post(celebrity);
    const kept = await h.post(celebrity, { visibility: 'followers' });
    await h.projected(kept);
    expect(await h.api('DELETE', `/api/v1/posts/${gone}`, { token: celebrity.token })).toMatchObject({ status: 204 });
    await h.feedUntil(fans[1]!, (ids) => ids.length === 1 && ids[0] === kept, 'only the live post');
    expect(await h.feedIds(outsider)).toEqual([]);
  });
});
