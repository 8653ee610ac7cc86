import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContentService, type ContentHarness, type TestUser } from './support.js';

let h: ContentHarness;
beforeAll(async () => {
  h = await startContentService();
}, 120_000);
afterAll(async () => {
  await h?.stop();
});

async function post(author: TestUser, visibility: 'public' | 'followers' | 'private' = 'public'): Promise<string> {
  const res = await h.api('POST', '/api/v1/posts', { token: author.token, body: { text: 'worth sharing', visibility } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

const repostCount = async (postId: string) => (await h.db.selectFrom('posts').select('repost_count').where('id', '=', postId).executeTakeFirstOrThrow()).repost_count;

describe('POST/DELETE /posts/:id/repost', () => {
  it('reposts a public post once: PostReposted and repost_count only when it changed; unrepost is idempotent', async () => {
    const [author, fan] = [await h.newUser(), await h.newUser()];
    const id = await post(author);
    const first = await h.api('POST', `/api/v1/posts/${id}/repost`, { token: fan.token });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ reposted: true, repost_count: 1 });
    expect((await h.api('POST', `/api/v1/posts/${id}/repost`, { token: fan.token })).status).toBe(200);
    expect(await repostCount(id)).toBe(1);
    const events = await h.outboxEvents('PostReposted', id);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toEqual({ post_id: id, user_id: fan.id, author_id: author.id });
    expect((await h.api('GET', `/api/v1/posts/${id}`, { token: fan.token })).body).toMatchObject({ reposted: true, repost_count: 1 });

    expect((await h.api('DELETE', `/api/v1/posts/${id}/repost`, { token: fan.token })).status).toBe(204);
    expect((await h.api('DELETE', `/api/v1/posts/${id}/repost`, { token: fan.token })).status).toBe(204);
    expect(await repostCount(id)).toBe(0);
    expect(await h.outboxEvents('PostUnreposted', id)).toHaveLength(1);
  });

  it('only public posts can be reposted: 403 for followers-only or private posts one sees, 404 for unseen ones', async () => {
    const [author, follower, stranger, blocked] = [await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    await h.follow(follower, author);
    await h.block(blocked, author);
    const forFollowers = await post(author, 'followers');
    const priv = await post(author, 'private');
    const pub = await post(author);
    const res = await h.api('POST', `/api/v1/posts/${forFollowers}/repost`, { token: follower.token });
    expect(res.status).toBe(403);
    expect(res.body.error.details).toEqual({ reason: 'not_public' });
    expect((await h.api('POST', `/api/v1/posts/${priv}/repost`, { token: author.token })).status).toBe(403);
    expect((await h.api('POST', `/api/v1/posts/${forFollowers}/repost`, { token: stranger.token })).status).toBe(404);
    expect((await h.api('POST', `/api/v1/posts/${pub}/repost`, { token: blocked.token })).status).toBe(404);
    expect((await h.api('POST', `/api/v1/posts/${pub}/repost`)).status).toBe(401);
    for (const id of [forFollowers, priv, pub]) expect(await repostCount(id)).toBe(0);
    expect(await h.outboxEvents('PostReposted', forFollowers)).toHaveLength(0);
  });

  it('keeps repost_count exact under concurrent reposts and unreposts', async () => {
    const author = await h.newUser();
    const id = await post(author);
    const users = await Promise.all(Array.from({ length: 20 }, () => h.newUser()));
    await Promise.all(users.flatMap((u, i) => [h.api('POST', `/api/v1/posts/${id}/repost`, { token: u.token }), ...(i % 3 === 0 ? [h.api('DELETE', `/api/v1/posts/${id}/repost`, { token: u.token })] : [])]));
    const rows = await h.db.selectFrom('reposts').select('user_id').where('post_id', '=', id).execute();
    expect(await repostCount(id)).toBe(rows.length);
  }, 60_000);
});
