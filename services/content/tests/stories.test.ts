import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, newId, sql } from '@nova/platform';
import { storyPurge } from '../src/domain/story-purge.js';
import { startContentService, type ContentHarness, type TestUser } from './support.js';

describe('stories', () => {
  let h: ContentHarness;

  beforeAll(async () => {
    h = await startContentService();
  });
  afterAll(async () => {
    await h?.stop();
  });

  const post = (u: TestUser, body: Record<string, unknown> = {}) => h.api('POST', '/api/v1/stories', { token: u.token, body: { media_id: newId(), audience: 'public', ...body } });
  const created = async (u: TestUser, body: Record<string, unknown> = {}): Promise<{ id: string; created_at: string }> => {
    const res = await post(u, body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  const get = (u: TestUser, id: string) => h.api('GET', `/api/v1/stories/${id}`, { token: u.token });
  const feed = async (u: TestUser) => {
    const res = await h.api('GET', '/api/v1/stories/feed', { token: u.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.groups as { author_id: string; has_unseen: boolean; stories: { id: string; seen: boolean }[] }[];
  };
  const expire = (id: string) => sql`UPDATE content.stories SET expires_at = now() - interval '1 second' WHERE id = ${id}`.execute(h.db);

  it('posts a story expiring 24 h after creation (not client-chosen) and emits StoryCreated', async () => {
    const alice = await h.newUser();
    const media = newId();
    const res = await post(alice, { media_id: media, caption: 'hello', audience: 'followers' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ author_id: alice.id, media_id: media, caption: 'hello', audience: 'followers', view_count: 0 });
    expect(Date.parse(res.body.expires_at) - Date.parse(res.body.created_at)).toBe(24 * 3600 * 1000);
    const [event] = await h.outboxEvents('StoryCreated', res.body.id);
    expect(event?.data).toMatchObject({ story_id: res.body.id, author_id: alice.id, audience: 'followers', expires_at: res.body.expires_at });

    expect((await post(alice, { expires_at: new Date(Date.now() + 1e9).toISOString() })).status).toBe(400);
    expect((await post(alice, { audience: 'everyone' })).status).toBe(400);
    expect((await post(alice, { media_id: 'nope' })).status).toBe(400);
    expect((await post(alice, { caption: 'x'.repeat(501) })).status).toBe(400);
    expect((await post(alice, { caption: 'x'.repeat(500) })).status).toBe(201);
    expect((await h.api('POST', '/api/v1/stories', { body: { media_id: newId(), audience: 'public' } })).status).toBe(401);
  });

  it('an expired story is 404 at once, before the purge; the purge then soft-deletes it with no deleter', async () => {
    const alice = await h.newUser();
    const bob = await h.newUser();
    const story = await created(alice);
    const keep = await created(alice);
    expect((await get(bob, story.id)).status).toBe(200);
    await expire(story.id);
    expect((await get(bob, story.id)).status).toBe(404);
    expect((await get(alice, story.id)).status).toBe(404);
    expect((await h.api('POST', `/api/v1/stories/${story.id}/views`, { token: bob.token })).status).toBe(404);
    expect((await feed(alice)).flatMap((g) => g.stories.map((s) => s.id))).toEqual([keep.id]);

    const purge = storyPurge({ db: h.db, logger: createLogger({ level: 'silent' }) }, { intervalMs: 60_000 });
    expect(await purge.runOnce()).toBeGreaterThanOrEqual(1);
    const row = await h.db.selectFrom('stories').select(['deleted_at', 'deleted_by']).where('id', '=', story.id).executeTakeFirstOrThrow();
    expect(row.deleted_at).not.toBeNull();
    expect(row.deleted_by).toBeNull();
    const live = await h.db.selectFrom('stories').select('deleted_at').where('id', '=', keep.id).executeTakeFirstOrThrow();
    expect(live.deleted_at).toBeNull();
    expect(await purge.runOnce()).toBe(0);

    // Started, the job purges on its own.
    const later = await created(alice);
    await expire(later.id);
    const job = storyPurge({ db: h.db, logger: createLogger({ level: 'silent' }) }, { intervalMs: 50 });
    job.start();
    try {
      await expect.poll(async () => (await h.db.selectFrom('stories').select('deleted_at').where('id', '=', later.id).executeTakeFirstOrThrow()).deleted_at, { timeout: 5_000 }).not.toBeNull();
    } finally {
      await job.stop();
    }
  });

  it('audiences: public to anyone (a private account: followers), followers to followers, close_friends to the list; blocks hide both ways', async () => {
    const [alice, fan, stranger, friend, blocker] = await Promise.all([h.newUser(), h.newUser(), h.newUser(), h.newUser(), h.newUser()]);
    await h.follow(fan, alice);
    await h.follow(blocker, alice);
    expect((await h.api('PUT', `/api/v1/stories/close-friends/${friend.id}`, { token: alice.token })).status).toBe(200);
    const pub = await created(alice, { audience: 'public' });
    const fol = await created(alice, { audience: 'followers' });
    const cf = await created(alice, { audience: 'close_friends' });
    const sees = async (u: TestUser) => {
      const out: string[] = [];
      for (const [name, s] of [['public', pub], ['followers', fol], ['close_friends', cf]] as const) if ((await get(u, s.id)).status === 200) out.push(name);
      return out;
    };
    expect(await sees(alice)).toEqual(['public', 'followers', 'close_friends']);
    expect(await sees(fan)).toEqual(['public', 'followers']);
    expect(await sees(stranger)).toEqual(['public']);
    expect(await sees(friend)).toEqual(['public', 'close_friends']);
    expect((await get(fan, pub.id)).body).toMatchObject({ id: pub.id, view_count: null, seen: false });
    expect((await get(alice, pub.id)).body).toMatchObject({ view_count: 0, seen: false });

    await h.block(alice, friend);
    await h.block(blocker, alice);
    expect(await sees(friend)).toEqual([]);
    expect(await sees(blocker)).toEqual([]);

    await h.makePrivate(alice);
    expect(await sees(stranger)).toEqual([]);
    expect(await sees(fan)).toEqual(['public', 'followers']);
  });

  it('views are idempotent and exact under concurrency; the author’s own views do not count', async () => {
    const alice = await h.newUser();
    const viewers = await Promise.all(Array.from({ length: 12 }, () => h.newUser()));
    const story = await created(alice);
    const results = await Promise.all(viewers.flatMap((v) => [0, 1, 2].map(() => h.api('POST', `/api/v1/stories/${story.id}/views`, { token: v.token }))));
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
    expect(results.filter((r) => r.body.first_view).length).toBe(12);
    expect((await h.api('POST', `/api/v1/stories/${story.id}/views`, { token: alice.token })).body).toEqual({ story_id: story.id, first_view: false });
    expect((await get(alice, story.id)).body.view_count).toBe(12);
    expect((await get(viewers[0]!, story.id)).body.seen).toBe(true);
    const { count } = await h.db.selectFrom('story_views').select((eb) => eb.fn.countAll<string>().as('count')).where('story_id', '=', story.id).executeTakeFirstOrThrow();
    expect(Number(count)).toBe(12);
  });

  it('viewers: the author only, latest first, cursor-paged', async () => {
    const alice = await h.newUser();
    const [v1, v2, v3] = await Promise.all([h.newUser(), h.newUser(), h.newUser()]);
    const story = await created(alice);
    for (const v of [v1!, v2!, v3!]) expect((await h.api('POST', `/api/v1/stories/${story.id}/views`, { token: v.token })).status).toBe(200);
    const first = await h.api('GET', `/api/v1/stories/${story.id}/viewers?limit=2`, { token: alice.token });
    expect(first.status).toBe(200);
    expect(first.body.items.map((i: { user_id: string }) => i.user_id)).toEqual([v3!.id, v2!.id]);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await h.api('GET', `/api/v1/stories/${story.id}/viewers?limit=2&cursor=${first.body.next_cursor}`, { token: alice.token });
    expect(second.body).toEqual({ items: [{ user_id: v1!.id, viewed_at: expect.any(String) }], next_cursor: null });
    expect((await h.api('GET', `/api/v1/stories/${story.id}/viewers`, { token: v1!.token })).status).toBe(403);
    const hidden = await created(alice, { audience: 'followers' });
    expect((await h.api('GET', `/api/v1/stories/${hidden.id}/viewers`, { token: v1!.token })).status).toBe(404);
    expect((await h.api('GET', `/api/v1/stories/${story.id}/viewers?cursor=bad`, { token: alice.token })).status).toBe(400);
  });

  it('delete: the author only, soft, then gone everywhere', async () => {
    const alice = await h.newUser();
    const bob = await h.newUser();
    const story = await created(alice);
    expect((await h.api('DELETE', `/api/v1/stories/${story.id}`, { token: bob.token })).status).toBe(403);
    expect((await h.api('DELETE', `/api/v1/stories/${story.id}`, { token: alice.token })).status).toBe(204);
    expect((await h.api('DELETE', `/api/v1/stories/${story.id}`, { token: alice.token })).status).toBe(404);
    expect((await get(alice, story.id)).status).toBe(404);
    const row = await h.db.selectFrom('stories').select(['deleted_at', 'deleted_by']).where('id', '=', story.id).executeTakeFirstOrThrow();
    expect(row.deleted_by).toBe(alice.id);
    expect(row.deleted_at).not.toBeNull();
    expect((await h.api('DELETE', `/api/v1/stories/${newId()}`, { token: alice.token })).status).toBe(404);
  });

  it('feed: people I follow and me, grouped by author; mine first, then unseen groups, then by latest story', async () => {
    const me = await h.newUser();
    const [a, b, c, d, e] = await Promise.all([h.newUser(), h.newUser(), h.newUser(), h.newUser(), h.newUser()]);
    for (const u of [a!, b!, c!, d!]) await h.follow(me, u);
    // e is not followed; d posts only to close friends (me not among them) and followers-only.
    const a1 = await created(a!);
    const b1 = await created(b!);
    const c1 = await created(c!);
    const a2 = await created(a!, { audience: 'followers' });
    const mine = await created(me);
    await created(d!, { audience: 'close_friends' });
    const d2 = await created(d!, { audience: 'followers' });
    await created(e!);
    const expiredC = await created(c!);
    await expire(expiredC.id);
    // me saw all of b's and c's stories: those groups go after the unseen ones.
    for (const s of [b1, c1]) expect((await h.api('POST', `/api/v1/stories/${s.id}/views`, { token: me.token })).status).toBe(200);

    const groups = await feed(me);
    expect(groups.map((g) => g.author_id)).toEqual([me.id, d!.id, a!.id, c!.id, b!.id]);
    expect(groups.map((g) => g.has_unseen)).toEqual([false, true, true, false, false]);
    expect(groups[1]!.stories.map((s) => s.id)).toEqual([d2.id]);
    expect(groups[2]!.stories.map((s) => [s.id, s.seen])).toEqual([[a1.id, false], [a2.id, false]]);
    expect(groups[3]!.stories.map((s) => s.id)).toEqual([c1.id]);
    expect(groups[0]!.stories.map((s) => s.id)).toEqual([mine.id]);

    // Seeing a's first story leaves the group unseen; seeing both moves it down.
    await h.api('POST', `/api/v1/stories/${a1.id}/views`, { token: me.token });
    expect((await feed(me)).map((g) => g.author_id)).toEqual([me.id, d!.id, a!.id, c!.id, b!.id]);
    await h.api('POST', `/api/v1/stories/${a2.id}/views`, { token: me.token });
    expect((await feed(me)).map((g) => g.author_id)).toEqual([me.id, d!.id, a!.id, c!.id, b!.id].filter((id) => id !== a!.id).toSpliced(2, 0, a!.id));

    // Close friends of d see d's close-friends story; a block hides a whole group.
    await h.api('PUT', `/api/v1/stories/close-friends/${me.id}`, { token: d!.token });
    expect((await feed(me)).find((g) => g.author_id === d!.id)?.stories.length).toBe(2);
    await h.block(b!, me);
    expect((await feed(me)).map((g) => g.author_id)).not.toContain(b!.id);
  });
});
