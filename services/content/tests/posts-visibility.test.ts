import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@nova/platform';
import { startContentService, type ContentHarness, type TestUser } from './support.js';

describe('posts: visibility, blocks, private accounts, lists', () => {
  let h: ContentHarness;

  beforeAll(async () => {
    h = await startContentService();
  });

  afterAll(async () => {
    await h?.stop();
  });

  const post = async (u: TestUser, text: string, visibility = 'public'): Promise<string> => {
    const res = await h.api('POST', '/api/v1/posts', { token: u.token, body: { text, visibility } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id;
  };
  const sees = async (viewer: TestUser | undefined, id: string): Promise<boolean> => {
    const res = await h.api('GET', `/api/v1/posts/${id}`, viewer ? { token: viewer.token } : {});
    expect([200, 404]).toContain(res.status);
    return res.status === 200;
  };
  const listed = async (viewer: TestUser | undefined, authorId: string): Promise<string[]> => {
    const res = await h.api('GET', `/api/v1/users/${authorId}/posts?limit=100`, viewer ? { token: viewer.token } : {});
    expect(res.status).toBe(200);
    return res.body.items.map((p: any) => p.id);
  };

  it('public, followers-only and private posts of a public account', async () => {
    const alice = await h.newUser();
    const follower = await h.newUser();
    const stranger = await h.newUser();
    const moderator = await h.newUser({ role: 'moderator' });
    await h.follow(follower, alice);
    const pub = await post(alice, 'for everyone');
    const fol = await post(alice, 'for followers', 'followers');
    const priv = await post(alice, 'for me', 'private');

    const cases: [TestUser | undefined, string, boolean[]][] = [
      [alice, 'author', [true, true, true]],
      [follower, 'follower', [true, true, false]],
      [stranger, 'stranger', [true, false, false]],
      [moderator, 'moderator', [true, false, false]],
      [undefined, 'anonymous', [true, false, false]],
    ];
    for (const [viewer, label, expected] of cases) {
      expect(await Promise.all([pub, fol, priv].map((id) => sees(viewer, id))), label).toEqual(expected);
      expect(await listed(viewer, alice.id), label).toEqual([priv, fol, pub].filter((_, i) => expected[2 - i]));
    }
  });

  it('a private account: public posts are followers-only; a pending request is not enough', async () => {
    const carol = await h.newUser();
    const approved = await h.newUser();
    const pending = await h.newUser();
    await h.makePrivate(carol);
    await h.follow(approved, carol);
    expect((await h.api('POST', `/api/v1/users/${carol.id}/follow`, { token: pending.token })).body.state).toBe('requested');
    const pub = await post(carol, 'public, but the account is private');
    const fol = await post(carol, 'followers', 'followers');
    for (const id of [pub, fol]) {
      expect(await sees(carol, id)).toBe(true);
      expect(await sees(approved, id)).toBe(true);
      expect(await sees(pending, id)).toBe(false);
      expect(await sees(undefined, id)).toBe(false);
    }
    expect(await listed(approved, carol.id)).toEqual([fol, pub]);
    expect(await listed(pending, carol.id)).toEqual([]);
    expect(await listed(undefined, carol.id)).toEqual([]);
  });

  it('blocks hide posts both ways, even public ones and from followers of before', async () => {
    const dave = await h.newUser();
    const erin = await h.newUser();
    const other = await h.newUser();
    await h.follow(erin, dave);
    const dPost = await post(dave, 'dave #blocktest');
    const ePost = await post(erin, 'erin #blocktest');
    expect(await sees(erin, dPost)).toBe(true);
    await h.block(dave, erin);
    expect(await sees(erin, dPost)).toBe(false);
    expect(await sees(dave, ePost)).toBe(false);
    expect(await listed(erin, dave.id)).toEqual([]);
    expect(await listed(dave, erin.id)).toEqual([]);
    expect(await sees(other, dPost)).toBe(true);
    const tagged = async (viewer: TestUser) => (await h.api('GET', '/api/v1/hashtags/blocktest/posts', { token: viewer.token })).body.items.map((p: any) => p.id);
    expect(await tagged(dave)).toEqual([dPost]);
    expect(await tagged(erin)).toEqual([ePost]);
    expect(await tagged(other)).toEqual([ePost, dPost]);
    // Neither may quote or reply to the other.
    expect((await h.api('POST', '/api/v1/posts', { token: erin.token, body: { text: 'q', quote_of: dPost } })).status).toBe(404);
  });

  it('user lists page newest first with cursors, skipping hidden posts without gaps or repeats', async () => {
    const frank = await h.newUser();
    const viewer = await h.newUser();
    const expected: string[] = [];
    for (let i = 0; i < 13; i++) {
      // Every third post is private: the viewer's pages skip it.
      const id = await post(frank, `post ${i}`, i % 3 === 0 ? 'private' : 'public');
      if (i % 3 !== 0) expected.unshift(id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const res = await h.api('GET', `/api/v1/users/${frank.id}/posts?limit=3${q}`, { token: viewer.token });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.items.map((p: any) => p.id));
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor && pages < 20);
    expect(seen).toEqual(expected);
    // The author sees all 13.
    expect(await listed(frank, frank.id)).toHaveLength(13);
    expect((await h.api('GET', `/api/v1/users/${frank.id}/posts?cursor=garbage`)).status).toBe(400);
    expect((await h.api('GET', `/api/v1/users/${frank.id}/posts?limit=101`)).status).toBe(400);
    expect(await listed(undefined, newId())).toEqual([]);
  });

  it('hashtag lists are case-insensitive and page with cursors', async () => {
    const gina = await h.newUser();
    const tag = `Tag${newId().slice(0, 8).replace(/-/g, '')}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.unshift(await post(gina, `#${i % 2 === 0 ? tag : tag.toUpperCase()} number ${i}`));
    await post(gina, `#${tag} hidden`, 'private');
    const first = await h.api('GET', `/api/v1/hashtags/${tag.toLowerCase()}/posts?limit=2`);
    expect(first.body.items.map((p: any) => p.id)).toEqual(ids.slice(0, 2));
    expect(first.body.items[0].hashtags).toEqual([tag.toLowerCase()]);
    const second = await h.api('GET', `/api/v1/hashtags/${tag.toUpperCase()}/posts?limit=2&cursor=${encodeURIComponent(first.body.next_cursor)}`);
    expect(second.body.items.map((p: any) => p.id)).toEqual(ids.slice(2, 4));
    const third = await h.api('GET', `/api/v1/hashtags/${tag}/posts?limit=2&cursor=${encodeURIComponent(second.body.next_cursor)}`);
    expect(third.body.items.map((p: any) => p.id)).toEqual(ids.slice(4));
    expect(third.body.next_cursor).toBeNull();
    expect((await h.api('GET', `/api/v1/hashtags/${encodeURIComponent('no-tag!')}/posts`)).status).toBe(400);
  });

  it('a deleted author (no profile any more) shows nothing to others', async () => {
    const hank = await h.newUser();
    const viewer = await h.newUser();
    const id = await post(hank, 'soon gone');
    expect(await sees(viewer, id)).toBe(true);
    await h.publishAuthEvent({ aggregate: 'user', action: 'deleted', type: 'UserDeleted', entityId: hank.id, data: { user_id: hank.id, deleted_by: hank.id } });
    const deadline = Date.now() + 10_000;
    while ((await h.api('GET', `/api/v1/users/${hank.id}`, { token: viewer.token })).status === 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(await sees(viewer, id)).toBe(false);
    expect(await listed(viewer, hank.id)).toEqual([]);
  });
});
