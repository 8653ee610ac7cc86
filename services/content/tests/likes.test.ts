import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@nova/platform';
import { startContentService, type ContentHarness, type TestUser } from './support.js';

let h: ContentHarness;
beforeAll(async () => {
  h = await startContentService();
}, 120_000);
afterAll(async () => {
  await h?.stop();
});

async function post(author: TestUser, visibility: 'public' | 'followers' | 'private' = 'public'): Promise<string> {
  const res = await h.api('POST', '/api/v1/posts', { token: author.token, body: { text: `hello from ${author.username}`, visibility } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

const likeCount = async (postId: string) => (await h.db.selectFrom('posts').select('like_count').where('id', '=', postId).executeTakeFirstOrThrow()).like_count;
const likeRows = async (postId: string) =>
  (await sql<{ n: number }>`SELECT count(*)::int AS n FROM content.likes WHERE post_id = ${postId}`.execute(h.db)).rows[0]!.n;

describe('POST/DELETE /posts/:id/like', () => {
  it('is idempotent: the counter and the events move only when a like is added or removed', async () => {
    const [author, fan] = [await h.newUser(), await h.newUser()];
    const id = await post(author);
    const first = await h.api('POST', `/api/v1/posts/${id}/like`, { token: fan.token });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ liked: true, like_count: 1 });
    const again = await h.api('POST', `/api/v1/posts/${id}/like`, { token: fan.token });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ liked: true, like_count: 1 });
    expect((await h.api('GET', `/api/v1/posts/${id}`, { token: fan.token })).body).toMatchObject({ like_count: 1, liked: true });

    const liked = await h.outboxEvents('PostLiked', id);
    expect(liked).toHaveLength(1);
    expect(liked[0]!.data).toEqual({ post_id: id, user_id: fan.id, author_id: author.id });

    expect((await h.api('DELETE', `/api/v1/posts/${id}/like`, { token: fan.token })).status).toBe(204);
    expect((await h.api('DELETE', `/api/v1/posts/${id}/like`, { token: fan.token })).status).toBe(204);
    expect(await likeCount(id)).toBe(0);
    expect(await h.outboxEvents('PostUnliked', id)).toHaveLength(1);
    expect((await h.api('GET', `/api/v1/posts/${id}`, { token: fan.token })).body).toMatchObject({ like_count: 0, liked: false });
  });

  it('needs a token, and answers 404 for missing, deleted and invisible posts', async () => {
    const [author, stranger, follower, blocked] = [await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    await h.follow(follower, author);
    await h.block(author, blocked);
    const pub = await post(author);
    const forFollowers = await post(author, 'followers');
    const priv = await post(author, 'private');
    expect((await h.api('POST', `/api/v1/posts/${pub}/like`)).status).toBe(401);
    expect((await h.api('POST', `/api/v1/posts/00000000-0000-4000-8000-000000000000/like`, { token: stranger.token })).status).toBe(404);
    expect((await h.api('POST', `/api/v1/posts/not-a-uuid/like`, { token: stranger.token })).status).toBe(400);
    expect((await h.api('POST', `/api/v1/posts/${forFollowers}/like`, { token: stranger.token })).status).toBe(404);
    expect((await h.api('POST', `/api/v1/posts/${forFollowers}/like`, { token: follower.token })).status).toBe(201);
    expect((await h.api('POST', `/api/v1/posts/${priv}/like`, { token: follower.token })).status).toBe(404);
    expect((await h.api('POST', `/api/v1/posts/${priv}/like`, { token: author.token })).status).toBe(201);
    expect((await h.api('POST', `/api/v1/posts/${pub}/like`, { token: blocked.token })).status).toBe(404);
    expect((await h.api('GET', `/api/v1/posts/${pub}/likes`, { token: blocked.token })).status).toBe(404);
    expect((await h.api('DELETE', `/api/v1/posts/${pub}`, { token: author.token })).status).toBe(204);
    expect((await h.api('POST', `/api/v1/posts/${pub}/like`, { token: stranger.token })).status).toBe(404);
    expect(await likeRows(pub)).toBe(0);
  });
});

describe('GET /posts/:id/likes', () => {
  it('lists likers newest first with a cursor, leaving out people blocked with the viewer', async () => {
    const [author, viewer, a, b, c] = [await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    const id = await post(author);
    for (const u of [a, b, c]) expect((await h.api('POST', `/api/v1/posts/${id}/like`, { token: u.token })).status).toBe(201);

    const first = await h.api('GET', `/api/v1/posts/${id}/likes?limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.users.map((u: { id: string }) => u.id)).toEqual([c.id, b.id]);
    expect(first.body.users[0]).toMatchObject({ username: c.username });
    const second = await h.api('GET', `/api/v1/posts/${id}/likes?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body.users.map((u: { id: string }) => u.id)).toEqual([a.id]);
    expect(second.body.next_cursor).toBeNull();
    expect((await h.api('GET', `/api/v1/posts/${id}/likes?cursor=bogus`)).status).toBe(400);

    await h.block(b, viewer);
    const seen = await h.api('GET', `/api/v1/posts/${id}/likes`, { token: viewer.token });
    expect(seen.body.users.map((u: { id: string }) => u.id)).toEqual([c.id, a.id]);
  });
});

describe('concurrency', () => {
  it('keeps like_count equal to the likes under concurrent likes, repeats and unlikes', async () => {
    const author = await h.newUser();
    const id = await post(author);
    const users = await Promise.all(Array.from({ length: 30 }, () => h.newUser()));
    const calls: Promise<unknown>[] = [];
    for (const u of users) {
      calls.push(h.api('POST', `/api/v1/posts/${id}/like`, { token: u.token }));
      calls.push(h.api('POST', `/api/v1/posts/${id}/like`, { token: u.token }));
    }
    for (const u of users.slice(0, 10)) calls.push(h.api('DELETE', `/api/v1/posts/${id}/like`, { token: u.token }));
    const results = (await Promise.all(calls)) as { status: number }[];
    for (const r of results) expect([200, 201, 204]).toContain(r.status);
    const rows = await likeRows(id);
    expect(rows).toBeGreaterThanOrEqual(20);
    expect(await likeCount(id)).toBe(rows);
    const events = (await h.outboxEvents('PostLiked', id)).length - (await h.outboxEvents('PostUnliked', id)).length;
    expect(events).toBe(rows);

    await Promise.all(users.map((u) => h.api('DELETE', `/api/v1/posts/${id}/like`, { token: u.token })));
    expect(await likeRows(id)).toBe(0);
    expect(await likeCount(id)).toBe(0);
  }, 60_000);
});
