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
  const res = await h.api('POST', '/api/v1/posts', { token: author.token, body: { text: 'discuss', visibility } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

async function comment(u: TestUser, postId: string, text: string, parentId?: string): Promise<string> {
  const res = await h.api('POST', `/api/v1/posts/${postId}/comments`, { token: u.token, body: { text, ...(parentId ? { parent_id: parentId } : {}) } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

const postRow = (id: string) => h.db.selectFrom('posts').select(['comment_count']).where('id', '=', id).executeTakeFirstOrThrow();
const commentRow = (id: string) => h.db.selectFrom('comments').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const liveComments = async (postId: string) =>
  (await sql<{ n: number }>`SELECT count(*)::int AS n FROM content.comments WHERE post_id = ${postId} AND deleted_at IS NULL`.execute(h.db)).rows[0]!.n;
const list = (postId: string, opts: { token?: string; query?: string } = {}) =>
  h.api('GET', `/api/v1/posts/${postId}/comments${opts.query ? `?${opts.query}` : ''}`, opts.token ? { token: opts.token } : {});
const texts = (res: { body: { comments: { text: string | null }[] } }) => res.body.comments.map((c) => c.text);

describe('POST /posts/:id/comments', () => {
  it('creates comments and replies, moving comment_count and reply_count, with CommentCreated', async () => {
    const [author, a, b] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const id = await post(author);
    const res = await h.api('POST', `/api/v1/posts/${id}/comments`, { token: a.token, body: { text: 'first!' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ post_id: id, parent_id: null, text: 'first!', deleted: false, author: { id: a.id, username: a.username }, like_count: 0, reply_count: 0 });
    const top = res.body.id as string;
    const reply = await comment(b, id, 'a reply', top);
    expect((await postRow(id)).comment_count).toBe(2);
    expect((await commentRow(top)).reply_count).toBe(1);
    const events = await h.outboxEvents('CommentCreated', reply);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({ comment_id: reply, post_id: id, post_author_id: author.id, author_id: b.id, parent_id: top, parent_author_id: a.id, text: 'a reply' });
    expect((await h.api('GET', `/api/v1/posts/${id}`)).body.comment_count).toBe(2);
  });

  it('validates text and parent: blank, too long, a comment of another post, a deleted one, unknown', async () => {
    const [author, a] = [await h.newUser(), await h.newUser()];
    const id = await post(author);
    const other = await post(author);
    const elsewhere = await comment(a, other, 'elsewhere');
    const gone = await comment(a, id, 'gone');
    expect((await h.api('DELETE', `/api/v1/comments/${gone}`, { token: a.token })).status).toBe(204);
    const send = (body: unknown) => h.api('POST', `/api/v1/posts/${id}/comments`, { token: a.token, body });
    expect((await send({ text: '   ' })).status).toBe(400);
    expect((await send({ text: '' })).status).toBe(400);
    expect((await send({ text: 'x'.repeat(2201) })).status).toBe(400);
    expect((await send({ text: 'x'.repeat(2200) })).status).toBe(201);
    expect((await send({ text: 'hi', parent_id: elsewhere })).status).toBe(404);
    expect((await send({ text: 'hi', parent_id: gone })).status).toBe(404);
    expect((await send({ text: 'hi', parent_id: '00000000-0000-4000-8000-000000000000' })).status).toBe(404);
    expect((await h.api('POST', `/api/v1/posts/${id}/comments`, { body: { text: 'anon' } })).status).toBe(401);
    expect((await postRow(id)).comment_count).toBe(await liveComments(id));
  });

  it('answers 404 on posts the caller may not see, and for replies to someone blocked with the caller', async () => {
    const [author, stranger, follower, rude] = [await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    await h.follow(follower, author);
    const forFollowers = await post(author, 'followers');
    expect((await h.api('POST', `/api/v1/posts/${forFollowers}/comments`, { token: stranger.token, body: { text: 'hi' } })).status).toBe(404);
    expect((await list(forFollowers, { token: stranger.token })).status).toBe(404);
    const c = await comment(follower, forFollowers, 'hello');
    const pub = await post(author);
    const rudeComment = await comment(rude, pub, 'rude');
    await h.block(follower, rude);
    expect((await h.api('POST', `/api/v1/posts/${pub}/comments`, { token: follower.token, body: { text: 'no', parent_id: rudeComment } })).status).toBe(404);
    expect((await h.api('POST', `/api/v1/comments/${rudeComment}/like`, { token: follower.token })).status).toBe(404);
    expect((await h.api('POST', `/api/v1/comments/${c}/like`, { token: stranger.token })).status).toBe(404);
  });
});

describe('GET /posts/:id/comments', () => {
  it('pages top-level comments newest first and replies oldest first', async () => {
    const [author, a, b] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const id = await post(author);
    const c1 = await comment(a, id, 'c1');
    await comment(b, id, 'c2');
    await comment(a, id, 'c3');
    for (const t of ['r1', 'r2', 'r3']) await comment(b, id, t, c1);

    const first = await list(id, { query: 'limit=2' });
    expect(first.status).toBe(200);
    expect(texts(first)).toEqual(['c3', 'c2']);
    const second = await list(id, { query: `limit=2&cursor=${first.body.next_cursor}` });
    expect(texts(second)).toEqual(['c1']);
    expect(second.body.comments[0].reply_count).toBe(3);
    expect(second.body.next_cursor).toBeNull();

    const replies = await list(id, { query: `parent_id=${c1}&limit=2` });
    expect(texts(replies)).toEqual(['r1', 'r2']);
    expect(texts(await list(id, { query: `parent_id=${c1}&limit=2&cursor=${replies.body.next_cursor}` }))).toEqual(['r3']);
    expect((await list(id, { query: 'parent_id=00000000-0000-4000-8000-000000000000' })).status).toBe(404);
  });

  it('shows deleted comments with live replies as tombstones and hides the rest; leaves out authors blocked with the viewer', async () => {
    const [author, a, b, viewer] = [await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    const id = await post(author);
    const withReplies = await comment(a, id, 'has replies');
    await comment(b, id, 'reply', withReplies);
    const lonely = await comment(a, id, 'lonely');
    await comment(b, id, 'from b');
    for (const c of [withReplies, lonely]) expect((await h.api('DELETE', `/api/v1/comments/${c}`, { token: a.token })).status).toBe(204);

    const res = await list(id);
    expect(res.body.comments).toHaveLength(2);
    expect(res.body.comments[1]).toMatchObject({ id: withReplies, deleted: true, text: null, author: null, reply_count: 1 });
    expect(res.body.comments[0]).toMatchObject({ text: 'from b', deleted: false });
    expect(texts(await list(id, { query: `parent_id=${withReplies}` }))).toEqual(['reply']);

    await h.block(viewer, b);
    const seen = await list(id, { token: viewer.token });
    expect(seen.body.comments.map((c: { id: string }) => c.id)).toEqual([withReplies]);
    expect(texts(await list(id, { token: viewer.token, query: `parent_id=${withReplies}` }))).toEqual([]);
  });
});

describe('DELETE /comments/:id', () => {
  it("lets the comment's author, the post's author and moderators delete; others get 403 (or 404 when they cannot see it)", async () => {
    const [author, a, other, stranger] = [await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    const mod = await h.newUser({ role: 'moderator' });
    const id = await post(author);
    const [c1, c2, c3] = [await comment(a, id, 'one'), await comment(a, id, 'two'), await comment(a, id, 'three')];
    const parentReply = await comment(other, id, 'reply', c1);
    expect((await postRow(id)).comment_count).toBe(4);

    expect((await h.api('DELETE', `/api/v1/comments/${c1}`, { token: other.token })).status).toBe(403);
    expect((await h.api('DELETE', `/api/v1/comments/${c1}`)).status).toBe(401);
    expect((await h.api('DELETE', `/api/v1/comments/${parentReply}`, { token: other.token })).status).toBe(204);
    expect((await commentRow(c1)).reply_count).toBe(0);
    expect((await h.api('DELETE', `/api/v1/comments/${c1}`, { token: a.token })).status).toBe(204);
    expect((await h.api('DELETE', `/api/v1/comments/${c1}`, { token: a.token })).status).toBe(404);
    expect((await h.api('DELETE', `/api/v1/comments/${c2}`, { token: author.token })).status).toBe(204);
    expect((await h.api('DELETE', `/api/v1/comments/${c3}`, { token: mod.token })).status).toBe(204);
    expect(await commentRow(c3)).toMatchObject({ deleted_by: mod.id });
    expect(await commentRow(c2)).toMatchObject({ deleted_by: author.id });
    expect((await postRow(id)).comment_count).toBe(0);
    const deleted = await h.outboxEvents('CommentDeleted', c3);
    expect(deleted).toHaveLength(1);
    expect(deleted[0]!.data).toMatchObject({ comment_id: c3, post_id: id, author_id: a.id, deleted_by: mod.id });

    const priv = await post(author, 'followers');
    await h.follow(a, author);
    const hidden = await comment(a, priv, 'for followers');
    expect((await h.api('DELETE', `/api/v1/comments/${hidden}`, { token: stranger.token })).status).toBe(404);
  });
});

describe('comment likes', () => {
  it('like and unlike a comment idempotently', async () => {
    const [author, a, fan] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const id = await post(author);
    const c = await comment(a, id, 'likeable');
    const first = await h.api('POST', `/api/v1/comments/${c}/like`, { token: fan.token });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ liked: true, like_count: 1 });
    expect((await h.api('POST', `/api/v1/comments/${c}/like`, { token: fan.token })).status).toBe(200);
    expect((await list(id, { token: fan.token })).body.comments[0]).toMatchObject({ like_count: 1, liked_by_me: true });
    expect((await h.api('DELETE', `/api/v1/comments/${c}/like`, { token: fan.token })).status).toBe(204);
    expect((await h.api('DELETE', `/api/v1/comments/${c}/like`, { token: fan.token })).status).toBe(204);
    expect((await commentRow(c)).like_count).toBe(0);
    expect((await h.api('DELETE', `/api/v1/comments/${c}`, { token: a.token })).status).toBe(204);
    expect((await h.api('POST', `/api/v1/comments/${c}/like`, { token: fan.token })).status).toBe(404);
  });
});

describe('concurrency', () => {
  it('keeps comment_count, reply_count and comment like counts exact under concurrent writes', async () => {
    const author = await h.newUser();
    const id = await post(author);
    const root = await comment(author, id, 'root');
    const users = await Promise.all(Array.from({ length: 30 }, () => h.newUser()));
    const created = await Promise.all(
      users.map((u, i) => h.api('POST', `/api/v1/posts/${id}/comments`, { token: u.token, body: { text: `c${i}`, ...(i % 2 === 0 ? { parent_id: root } : {}) } })),
    );
    for (const r of created) expect(r.status).toBe(201);
    const ops: Promise<unknown>[] = [];
    created.forEach((r, i) => {
      if (i % 3 === 0) ops.push(h.api('DELETE', `/api/v1/comments/${r.body.id}`, { token: users[i]!.token }));
    });
    for (const u of users) {
      ops.push(h.api('POST', `/api/v1/comments/${root}/like`, { token: u.token }));
      ops.push(h.api('POST', `/api/v1/comments/${root}/like`, { token: u.token }));
    }
    for (const u of users.slice(0, 7)) ops.push(h.api('DELETE', `/api/v1/comments/${root}/like`, { token: u.token }));
    await Promise.all(ops);

    expect((await postRow(id)).comment_count).toBe(await liveComments(id));
    const liveReplies = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM content.comments WHERE parent_id = ${root} AND deleted_at IS NULL`.execute(h.db)).rows[0]!.n;
    const likes = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM content.comment_likes WHERE comment_id = ${root}`.execute(h.db)).rows[0]!.n;
    const row = await commentRow(root);
    expect(row.reply_count).toBe(liveReplies);
    expect(row.like_count).toBe(likes);
    expect(likes).toBeGreaterThanOrEqual(23);
  }, 60_000);
});
