import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventSubject, newId, sql } from '@nova/platform';
import { eventually } from '@nova/testing';
import { startContentService, type ContentHarness, type TestUser } from './support.js';

let h: ContentHarness;
beforeAll(async () => {
  h = await startContentService();
}, 120_000);
afterAll(async () => {
  await h?.stop();
});

async function post(author: TestUser, text = 'content'): Promise<string> {
  const res = await h.api('POST', '/api/v1/posts', { token: author.token, body: { text } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

async function comment(u: TestUser, postId: string, text: string, parentId?: string): Promise<string> {
  const res = await h.api('POST', `/api/v1/posts/${postId}/comments`, { token: u.token, body: { text, ...(parentId ? { parent_id: parentId } : {}) } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

async function react(u: TestUser, postId: string, kinds: ('like' | 'repost' | 'bookmark')[] = ['like', 'repost', 'bookmark']): Promise<void> {
  for (const k of kinds) expect((await h.api('POST', `/api/v1/posts/${postId}/${k}`, { token: u.token })).status).toBe(201);
}

const counters = (id: string) => h.db.selectFrom('posts').select(['like_count', 'repost_count', 'bookmark_count', 'comment_count', 'deleted_at', 'deleted_by']).where('id', '=', id).executeTakeFirstOrThrow();
const commentRow = (id: string) => h.db.selectFrom('comments').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const handled = async (eventId: string) => (await sql`SELECT 1 FROM content.handled_events WHERE event_id = ${eventId}`.execute(h.db)).rows.length > 0;
const reactionRows = async (userId: string) =>
  (
    await sql<{ n: number }>`SELECT ((SELECT count(*) FROM content.likes WHERE user_id = ${userId}) + (SELECT count(*) FROM content.reposts WHERE user_id = ${userId})
      + (SELECT count(*) FROM content.bookmarks WHERE user_id = ${userId}) + (SELECT count(*) FROM content.comment_likes WHERE user_id = ${userId}))::int AS n`.execute(h.db)
  ).rows[0]!.n;

describe("auth's UserDeleted", () => {
  it("soft-deletes the user's posts, comments and stories and removes their reactions, correcting counters", async () => {
    const [gone, other, fan] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const own = await post(gone);
    const others = await post(other);
    await react(fan, own);
    await react(gone, others);
    const top = await comment(other, others, 'top');
    const reply = await comment(gone, others, 'reply by gone', top);
    const goneTop = await comment(gone, others, 'top by gone');
    expect((await h.api('POST', `/api/v1/comments/${top}/like`, { token: gone.token })).status).toBe(201);
    const storyId = newId();
    await h.db.insertInto('stories').values({ id: storyId, author_id: gone.id, media_id: newId(), audience: 'public', expires_at: new Date(Date.now() + 3_600_000) }).execute();
    expect(await counters(others)).toMatchObject({ like_count: 1, repost_count: 1, bookmark_count: 1, comment_count: 3 });

    const event = await h.publishAuthEvent({ aggregate: 'user', action: 'deleted', type: 'UserDeleted', entityId: gone.id, data: { user_id: gone.id, deleted_by: gone.id } });
    await eventually(() => handled(event.id), 'UserDeleted to be handled');

    expect(await counters(own)).toMatchObject({ deleted_by: gone.id });
    expect((await counters(own)).deleted_at).not.toBeNull();
    expect(await counters(others)).toMatchObject({ like_count: 0, repost_count: 0, bookmark_count: 0, comment_count: 1, deleted_at: null });
    for (const id of [reply, goneTop]) expect(await commentRow(id)).toMatchObject({ deleted_by: gone.id });
    expect(await commentRow(top)).toMatchObject({ reply_count: 0, like_count: 0, deleted_at: null });
    expect(await h.db.selectFrom('stories').select('deleted_by').where('id', '=', storyId).executeTakeFirstOrThrow()).toEqual({ deleted_by: gone.id });
    expect(await reactionRows(gone.id)).toBe(0);
    // The fan's reactions to the deleted post stay rows, but the post is gone from every read.
    expect((await h.api('GET', `/api/v1/posts/${own}`, { token: fan.token })).status).toBe(404);
    expect((await h.api('GET', '/api/v1/bookmarks', { token: fan.token })).body.items).toEqual([]);
    expect((await h.api('GET', `/api/v1/posts/${others}/comments`)).body.comments.map((c: { id: string }) => c.id)).toEqual([top]);

    // Delivered again (another message id past JetStream's de-duplication): nothing changes.
    await h.nats.js.publish(eventSubject(h.env.natsPrefix, 'auth', 'user', 'deleted'), JSON.stringify({ ...event, id: newId() }), { msgID: newId() });
    const again = await h.publishAuthEvent({ aggregate: 'user', action: 'deleted', type: 'UserDeleted', entityId: gone.id, data: { user_id: gone.id } });
    await eventually(() => handled(again.id), 'the repeated UserDeleted to be handled');
    expect(await counters(others)).toMatchObject({ like_count: 0, repost_count: 0, bookmark_count: 0, comment_count: 1 });
  });
});

describe("user's UserBlocked", () => {
  it("removes each side's likes, reposts, bookmarks and comment likes on the other's content, correcting counters", async () => {
    const [a, b, bystander] = [await h.newUser(), await h.newUser(), await h.newUser()];
    const aPost = await post(a);
    const bPost = await post(b);
    const thirdPost = await post(bystander);
    await react(a, bPost);
    await react(b, aPost);
    await react(a, thirdPost);
    await react(bystander, aPost);
    const bComment = await comment(b, thirdPost, 'by b');
    const aComment = await comment(a, thirdPost, 'by a');
    expect((await h.api('POST', `/api/v1/comments/${bComment}/like`, { token: a.token })).status).toBe(201);
    expect((await h.api('POST', `/api/v1/comments/${aComment}/like`, { token: bystander.token })).status).toBe(201);

    await h.block(a, b);
    await eventually(async () => (await counters(bPost)).like_count === 0 && (await counters(aPost)).like_count === 1, 'UserBlocked to be handled');

    expect(await counters(bPost)).toMatchObject({ like_count: 0, repost_count: 0, bookmark_count: 0 });
    expect(await counters(aPost)).toMatchObject({ like_count: 1, repost_count: 1, bookmark_count: 1 });
    expect(await counters(thirdPost)).toMatchObject({ like_count: 1, repost_count: 1, bookmark_count: 1, comment_count: 2 });
    expect((await commentRow(bComment)).like_count).toBe(0);
    expect((await commentRow(aComment)).like_count).toBe(1);
    const left = await h.db.selectFrom('likes').select('user_id').where('post_id', 'in', [aPost, bPost]).execute();
    expect(left.map((r) => r.user_id)).toEqual([bystander.id]);
  });

  it('is applied from an event published on JetStream in the platform envelope, and is harmless twice', async () => {
    const [a, b] = [await h.newUser(), await h.newUser()];
    const bPost = await post(b);
    await react(a, bPost);
    const envelope = {
      id: newId(),
      type: 'UserBlocked',
      version: 1,
      source: 'user',
      subject: `block/${b.id}:${a.id}`,
      occurred_at: new Date().toISOString(),
      correlation_id: null,
      data: { blocker_id: b.id, blocked_id: a.id },
    };
    for (const id of [envelope.id, newId()]) {
      const e = { ...envelope, id };
      await h.nats.js.publish(eventSubject(h.env.natsPrefix, 'user', 'block', 'created'), JSON.stringify(e), { msgID: id });
      await eventually(() => handled(id), 'UserBlocked to be handled');
    }
    expect(await counters(bPost)).toMatchObject({ like_count: 0, repost_count: 0, bookmark_count: 0 });
    expect(await reactionRows(a.id)).toBe(0);
  });
});
