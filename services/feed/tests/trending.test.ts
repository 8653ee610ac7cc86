import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@nova/testing';
import { startFeed, type FeedHarness, type TestUser } from './support.js';

// Trending lists are recomputed every second here (default 30 s).
let h: FeedHarness;
beforeAll(async () => {
  h = await startFeed({ FEED_TRENDING_REFRESH_SECONDS: '1' });
});
afterAll(async () => h?.stop());

async function like(u: TestUser, postId: string) {
  expect((await h.api('POST', `/api/v1/posts/${postId}/like`, { token: u.token })).status).toBeLessThan(300);
}

async function trendingIds(path: string, token?: string): Promise<string[]> {
  const res = await h.api('GET', path, token ? { token } : {});
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.items.map((i: { post: { id: string } }) => i.post.id);
}

describe('trending, hashtags, explore and views', () => {
  let author: TestUser;
  let quiet: TestUser;
  let secret: TestUser;
  let fans: TestUser[];
  let hot: string;
  let warm: string;
  let hidden: string;
  let privateAccountPost: string;

  beforeAll(async () => {
    author = await h.newUser();
    quiet = await h.newUser();
    secret = await h.newUser();
    fans = [await h.newUser(), await h.newUser(), await h.newUser()];
    hot = await h.post(author, { text: 'big news #NovaLaunch' });
    warm = await h.post(quiet, { text: 'small news #quiet' });
    hidden = await h.post(author, { text: 'for my followers #secretstuff', visibility: 'followers' });
    privateAccountPost = await h.post(secret, { text: 'private account #secretstuff' });
    for (const p of [hot, warm, hidden, privateAccountPost]) await h.projected(p);
    for (const fan of fans) {
      await like(fan, hot);
      await h.follow(fan, author);
    }
    await h.follow(fans[0]!, secret);
    await like(fans[0]!, privateAccountPost);
    await like(fans[1]!, privateAccountPost);
    // Liked while public, then the account goes private: its posts leave trending.
    await h.makePrivate(secret);
    expect((await h.api('POST', `/api/v1/posts/${hot}/comments`, { token: fans[0]!.token, body: { text: 'wow' } })).status).toBeLessThan(300);
    await like(fans[0]!, hidden);
    await like(fans[1]!, hidden);
    // warm only gets a view.
    expect(await h.api('POST', '/api/v1/feed/views', { token: fans[2]!.token, body: { post_ids: [warm] } })).toMatchObject({ status: 202, body: { counted: 1 } });
  });

  it('ranks public posts by decayed engagement, never followers-only posts or private accounts', async () => {
    const ids = await eventually(async () => {
      const got = await trendingIds('/api/v1/feed/trending?window=1h');
      return got.length === 2 ? got : undefined;
    }, 'the trending list to include both public posts', 15_000, 250);
    expect(ids).toEqual([hot, warm]);
    expect(await trendingIds('/api/v1/feed/trending?window=7d', fans[0]!.token)).toEqual([hot, warm]);
  });

  it('lists trending hashtags of public posts only', async () => {
    const tags = await eventually(async () => {
      const res = await h.api('GET', '/api/v1/feed/trending/hashtags?window=24h');
      return res.body.items.length >= 2 ? (res.body.items as { tag: string; score: number }[]) : undefined;
    }, 'trending hashtags', 15_000, 250);
    expect(tags.map((t) => t.tag)).toEqual(['novalaunch', 'quiet']);
    expect(tags[0]!.score).toBeGreaterThan(tags[1]!.score);
  });

  it('hides the posts of accounts a signed-in reader blocks or mutes', async () => {
    const blocker = await h.newUser();
    const muter = await h.newUser();
    await h.block(blocker, author);
    await h.mute(muter, quiet);
    await eventually(async () => (await trendingIds('/api/v1/feed/trending', blocker.token)).join() === warm, 'the blocked author to drop out', 10_000, 250);
    await eventually(async () => (await trendingIds('/api/v1/feed/trending', muter.token)).join() === hot, 'the muted author to drop out', 10_000, 250);
  });

  it('explore shows trending posts from accounts the reader does not follow', async () => {
    await eventually(async () => (await trendingIds('/api/v1/feed/explore', fans[0]!.token)).join() === warm, 'explore without followed authors', 10_000, 250);
    expect(await trendingIds('/api/v1/feed/explore', author.token)).toEqual([warm]);
    expect((await h.api('GET', '/api/v1/feed/explore')).status).toBe(401);
  });

  it('counts a view once per reader and day, and never the author\'s own', async () => {
    const viewer = await h.newUser();
    expect(await h.api('POST', '/api/v1/feed/views', { token: viewer.token, body: { post_ids: [hot, warm, hot] } })).toMatchObject({ status: 202, body: { counted: 2 } });
    expect(await h.api('POST', '/api/v1/feed/views', { token: viewer.token, body: { post_ids: [hot, warm] } })).toMatchObject({ status: 202, body: { counted: 0 } });
    expect(await h.api('POST', '/api/v1/feed/views', { token: author.token, body: { post_ids: [hot] } })).toMatchObject({ status: 202, body: { counted: 0 } });
    const bad = await h.api('POST', '/api/v1/feed/views', { token: viewer.token, body: { post_ids: ['nope'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('pages trending over a snapshot and refuses an unknown window', async () => {
    const first = await h.api('GET', '/api/v1/feed/trending?window=7d&limit=1');
    expect(first.body.items.map((i: { post: { id: string } }) => i.post.id)).toEqual([hot]);
    const second = await h.api('GET', `/api/v1/feed/trending?window=7d&limit=1&cursor=${first.body.next_cursor}`);
    expect(second.body.items.map((i: { post: { id: string } }) => i.post.id)).toEqual([warm]);
    expect(second.body.next_cursor).toBeNull();
    const bad = await h.api('GET', '/api/v1/feed/trending?window=1y');
    expect(bad.status).toBe(400);
  });
});
