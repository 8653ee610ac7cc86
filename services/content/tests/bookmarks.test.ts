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

async function post(author: TestUser, visibility: 'public' | 'followers' | 'private' = 'public', text = 'keep this'): Promise<string> {
  const res = await h.api('POST', '/api/v1/posts', { token: author.token, body: { text, visibility } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

const bookmarkCount = async (postId: string) => (await h.db.selectFrom('posts').select('bookmark_count').where('id', '=', postId).executeTakeFirstOrThrow()).bookmark_count;
const ids = (res: { body: { items: { id: string }[] } }) => res.body.items.map((p) => p.id);

describe('POST/DELETE /posts/:id/bookmark', () => {
  it('bookmarks privately and idempotently: no event, bookmark_count moves only on a change', async () => {
    const [author, reader] = [await h.newUser(), await h.newUser()];
    const id = await post(author);
    const first = await h.api('POST', `/api/v1/posts/${id}/bookmark`, { token: reader.token });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ bookmarked: true, bookmark_count: 1 });
    expect((await h.api('POST', `/api/v1/posts/${id}/bookmark`, { token: reader.token })).status).toBe(200);
    expect(await bookmarkCount(id)).toBe(1);
    expect((await h.api('GET', `/api/v1/posts/${id}`, { token: reader.token })).body.bookmarked).toBe(true);
    expect((await h.api('GET', `/api/v1/posts/${id}`, { token: author.token })).body.bookmarked).toBe(false);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM content.outbox WHERE event_type ILIKE '%bookmark%'`.execute(h.db);
    expect(rows[0]!.n).toBe(0);

    expect((await h.api('DELETE', `/api/v1/posts/${id}/bookmark`, { token: reader.token })).status).toBe(204);
    expect((await h.api('DELETE', `/api/v1/posts/${id}/bookmark`, { token: reader.token })).status).toBe(204);
    expect(await bookmarkCount(id)).toBe(0);
  });

  it('answers 404 for posts the caller may not see, 401 without a token', async () => {
    const [author, stranger] = [await h.newUser(), await h.newUser()];
    const forFollowers = await post(author, 'followers');
    expect((await h.api('POST', `/api/v1/posts/${forFollowers}/bookmark`, { token: stranger.token })).status).toBe(404);
    expect((await h.api('POST', `/api/v1/posts/${forFollowers}/bookmark`)).status).toBe(401);
    expect((await h.api('GET', '/api/v1/bookmarks')).status).toBe(401);
  });
});

describe('GET /bookmarks', () => {
  it("lists the caller's bookmarks newest first, with a cursor", async () => {
    const [author, reader, other] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const posts = [await post(author, 'public', 'one'), await post(author, 'public', 'two'), await post(author, 'public', 'three')];
    for (const id of posts) expect((await h.api('POST', `/api/v1/posts/${id}/bookmark`, { token: reader.token })).status).toBe(201);
    await h.api('POST', `/api/v1/posts/${posts[0]}/bookmark`, { token: other.token });

    const first = await h.api('GET', '/api/v1/bookmarks?limit=2', { token: reader.token });
    expect(first.status).toBe(200);
    expect(ids(first)).toEqual([posts[2], posts[1]]);
    expect(first.body.items[0]).toMatchObject({ text: 'three', bookmarked: true, author_id: author.id });
    expect(typeof first.body.items[0].bookmarked_at).toBe('string');
    const second = await h.api('GET', `/api/v1/bookmarks?limit=2&cursor=${first.body.next_cursor}`, { token: reader.token });
    expect(ids(second)).toEqual([posts[0]]);
    expect(second.body.next_cursor).toBeNull();
    expect(ids(await h.api('GET', '/api/v1/bookmarks', { token: other.token }))).toEqual([posts[0]]);
    expect((await h.api('GET', '/api/v1/bookmarks?cursor=nope', { token: reader.token })).status).toBe(400);
  });

  it('re-checks visibility at read time: deleted posts, posts made private and blocked authors are left out', async () => {
    const [a, b, c, reader] = [await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    const kept = await post(a);
    const deleted = await post(a);
    const madePrivate = await post(b);
    const blockedAuthor = await post(c);
    for (const id of [kept, deleted, madePrivate, blockedAuthor]) expect((await h.api('POST', `/api/v1/posts/${id}/bookmark`, { token: reader.token })).status).toBe(201);
    expect((await h.api('DELETE', `/api/v1/posts/${deleted}`, { token: a.token })).status).toBe(204);
    expect((await h.api('PATCH', `/api/v1/posts/${madePrivate}`, { token: b.token, body: { visibility: 'private' } })).status).toBe(200);
    // A block leaves the bookmark row to the UserBlocked consumer; the read must not wait for it.
    await h.block(c, reader);

    const res = await h.api('GET', '/api/v1/bookmarks?limit=1', { token: reader.token });
    expect(ids(res)).toEqual([kept]);
    expect(res.body.next_cursor).toBeNull();
    // The caller can still drop a bookmark of a post they no longer see.
    expect((await h.api('DELETE', `/api/v1/posts/${madePrivate}/bookmark`, { token: reader.token })).status).toBe(204);
    expect(await bookmarkCount(madePrivate)).toBe(0);
  });
});
