import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@nova/platform';
import { startContentService, type ContentHarness, type TestUser } from './support.js';

describe('posts: create, read, edit, delete', () => {
  let h: ContentHarness;

  beforeAll(async () => {
    h = await startContentService();
  });

  afterAll(async () => {
    await h?.stop();
  });

  const post = (u: TestUser, body: Record<string, unknown>, headers?: Record<string, string>) => h.api('POST', '/api/v1/posts', { token: u.token, body, ...(headers ? { headers } : {}) });

  it('creates a post with hashtags and resolved mentions, and emits PostCreated', async () => {
    const alice = await h.newUser();
    const bob = await h.newUser();
    const media = newId();
    const res = await post(alice, { text: `Hello #Nova #nova and #日本 @${bob.username.toUpperCase()} @nobody_here_xyz`, media_ids: [media] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      author_id: alice.id,
      visibility: 'public',
      media_ids: [media],
      hashtags: ['nova', '日本'],
      mentions: [bob.id],
      like_count: 0,
      quote_count: 0,
      liked: false,
      reply_to: null,
      quote_of: null,
      edited_at: null,
    });
    const got = await h.api('GET', `/api/v1/posts/${res.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);
    const [event] = await h.outboxEvents('PostCreated', res.body.id);
    expect(event!.data).toMatchObject({ post_id: res.body.id, author_id: alice.id, visibility: 'public', mentions: [bob.id] });
    expect(new Set(event!.data.hashtags)).toEqual(new Set(['nova', '日本']));
  });

  it('validates: text or media, limits, visibility, unknown fields, idempotency key length', async () => {
    const alice = await h.newUser();
    const bad = [
      {},
      { text: '' },
      { text: '   ' },
      { text: 'x'.repeat(2201) },
      { text: 'hi', media_ids: Array.from({ length: 11 }, () => newId()) },
      { text: 'hi', media_ids: ['not-a-uuid'] },
      { text: 'hi', visibility: 'friends' },
      { text: 'hi', author_id: newId() },
      { text: 'nul \u0000 inside' },
    ];
    for (const body of bad) expect((await post(alice, body)).status, JSON.stringify(body).slice(0, 80)).toBe(400);
    expect((await post(alice, { text: 'x'.repeat(2200) })).status).toBe(201);
    expect((await post(alice, { media_ids: [newId()] })).status).toBe(201);
    expect((await post(alice, { text: 'hi' }, { 'idempotency-key': 'k'.repeat(101) })).status).toBe(400);
    expect((await h.api('POST', '/api/v1/posts', { body: { text: 'anonymous' } })).status).toBe(401);
    expect((await h.api('GET', '/api/v1/posts/not-a-uuid')).status).toBe(400);
    expect((await h.api('GET', `/api/v1/posts/${newId()}`)).status).toBe(404);
  });

  it('an Idempotency-Key makes a retried create return the same post (200), also under concurrency; per author', async () => {
    const alice = await h.newUser();
    const bob = await h.newUser();
    const key = { 'idempotency-key': `k-${newId()}` };
    const first = await post(alice, { text: 'once' }, key);
    expect(first.status).toBe(201);
    const again = await post(alice, { text: 'once, retried' }, key);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.text).toBe('once');
    // Another author may use the same key.
    const other = await post(bob, { text: 'mine' }, key);
    expect(other.status).toBe(201);
    expect(other.body.id).not.toBe(first.body.id);

    const raceKey = { 'idempotency-key': `race-${newId()}` };
    const results = await Promise.all(Array.from({ length: 8 }, () => post(alice, { text: 'race' }, raceKey)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    // A key whose post was deleted makes nothing new.
    expect((await h.api('DELETE', `/api/v1/posts/${first.body.id}`, { token: alice.token })).status).toBe(204);
    expect((await post(alice, { text: 'once' }, key)).status).toBe(409);
    const rows = await h.db.selectFrom('posts').select('id').where('author_id', '=', alice.id).where('idempotency_key', '=', raceKey['idempotency-key']).execute();
    expect(rows).toHaveLength(1);
    expect(await h.outboxEvents('PostCreated', rows[0]!.id)).toHaveLength(1);
  });

  it('keeps every edit: PATCH stores the previous version, history lists all versions, hashtags follow the text', async () => {
    const alice = await h.newUser();
    const bob = await h.newUser();
    const created = (await post(alice, { text: 'v1 #first' })).body;
    const e1 = await h.api('PATCH', `/api/v1/posts/${created.id}`, { token: alice.token, body: { text: `v2 #second @${bob.username}` } });
    expect(e1.status).toBe(200);
    expect(e1.body).toMatchObject({ text: 'v2 #second @' + bob.username, hashtags: ['second'], mentions: [bob.id] });
    expect(e1.body.edited_at).not.toBeNull();
    const e2 = await h.api('PATCH', `/api/v1/posts/${created.id}`, { token: alice.token, body: { visibility: 'followers' } });
    expect(e2.body).toMatchObject({ text: e1.body.text, visibility: 'followers' });
    // Same values: nothing kept, no event.
    expect((await h.api('PATCH', `/api/v1/posts/${created.id}`, { token: alice.token, body: { visibility: 'followers' } })).status).toBe(200);

    const history = await h.api('GET', `/api/v1/posts/${created.id}/history`, { token: alice.token });
    expect(history.status).toBe(200);
    expect(history.body.items.map((v: any) => [v.text, v.visibility])).toEqual([
      [e1.body.text, 'followers'],
      [e1.body.text, 'public'],
      ['v1 #first', 'public'],
    ]);
    expect(history.body.items[0].until).toBeNull();
    expect(history.body.items[2].since).toBe(created.created_at);
    expect(history.body.items[1].until).toBe(history.body.items[0].since);
    expect(await h.outboxEvents('PostUpdated', created.id)).toHaveLength(2);

    // The old hashtag no longer lists the post; the new one does.
    expect((await h.api('GET', '/api/v1/hashtags/first/posts', { token: alice.token })).body.items).toEqual([]);
    expect((await h.api('GET', '/api/v1/hashtags/second/posts', { token: alice.token })).body.items.map((p: any) => p.id)).toEqual([created.id]);

    // Only the author edits: others get 403 when they can see it, 404 when they cannot (followers-only now).
    expect((await h.api('PATCH', `/api/v1/posts/${created.id}`, { token: bob.token, body: { text: 'hijack' } })).status).toBe(404);
    const open = (await post(alice, { text: 'public one' })).body;
    expect((await h.api('PATCH', `/api/v1/posts/${open.id}`, { token: bob.token, body: { text: 'hijack' } })).status).toBe(403);
    // History is hidden from those who cannot see the post.
    expect((await h.api('GET', `/api/v1/posts/${created.id}/history`, { token: bob.token })).status).toBe(404);
    expect((await h.api('PATCH', `/api/v1/posts/${open.id}`, { token: alice.token, body: {} })).status).toBe(400);
  });

  it('delete: by the author or a moderator (soft, deleted_by), refused for others; deleted posts vanish everywhere', async () => {
    const alice = await h.newUser();
    const bob = await h.newUser();
    const mod = await h.newUser({ role: 'moderator' });
    const p1 = (await post(alice, { text: 'delete me #gone1' })).body;
    const p2 = (await post(alice, { text: 'moderate me', visibility: 'followers' })).body;

    expect((await h.api('DELETE', `/api/v1/posts/${p1.id}`, { token: bob.token })).status).toBe(403);
    expect((await h.api('DELETE', `/api/v1/posts/${p2.id}`, { token: bob.token })).status).toBe(404);
    expect((await h.api('DELETE', `/api/v1/posts/${p1.id}`, { token: alice.token })).status).toBe(204);
    expect((await h.api('DELETE', `/api/v1/posts/${p1.id}`, { token: alice.token })).status).toBe(404);
    expect((await h.api('DELETE', `/api/v1/posts/${p2.id}`, { token: mod.token })).status).toBe(204);

    const rows = await h.db.selectFrom('posts').select(['id', 'deleted_by', 'deleted_at']).where('id', 'in', [p1.id, p2.id]).orderBy('created_at').execute();
    expect(rows.map((r) => r.deleted_by)).toEqual([alice.id, mod.id]);
    expect(rows.every((r) => r.deleted_at !== null)).toBe(true);
    const [deleted] = await h.outboxEvents('PostDeleted', p2.id);
    expect(deleted!.data).toMatchObject({ post_id: p2.id, author_id: alice.id, deleted_by: mod.id });

    for (const viewer of [alice, mod, bob]) {
      for (const id of [p1.id, p2.id]) {
        expect((await h.api('GET', `/api/v1/posts/${id}`, { token: viewer.token })).status).toBe(404);
        expect((await h.api('GET', `/api/v1/posts/${id}/history`, { token: viewer.token })).status).toBe(404);
      }
      expect((await h.api('GET', `/api/v1/users/${alice.id}/posts`, { token: viewer.token })).body.items).toEqual([]);
    }
    expect((await h.api('GET', '/api/v1/hashtags/gone1/posts')).body.items).toEqual([]);
    expect((await h.api('PATCH', `/api/v1/posts/${p1.id}`, { token: alice.token, body: { text: 'back?' } })).status).toBe(404);
    // A deleted post cannot be replied to or quoted.
    expect((await post(alice, { text: 'reply', reply_to: p1.id })).status).toBe(404);
  });

  it('quotes and replies must reference posts the author can see; a quote counts on the quoted post', async () => {
    const alice = await h.newUser();
    const bob = await h.newUser();
    const original = (await post(alice, { text: 'original' })).body;
    const hidden = (await post(alice, { text: 'mine only', visibility: 'private' })).body;
    const quote = await post(bob, { text: 'look', quote_of: original.id });
    expect(quote.status).toBe(201);
    expect(quote.body.quote_of).toBe(original.id);
    const reply = await post(bob, { text: 're', reply_to: original.id });
    expect(reply.body.reply_to).toBe(original.id);
    expect((await h.api('GET', `/api/v1/posts/${original.id}`)).body.quote_count).toBe(1);
    expect((await post(bob, { text: 'peek', quote_of: hidden.id })).status).toBe(404);
    expect((await post(bob, { text: 'peek', reply_to: hidden.id })).status).toBe(404);
    expect((await post(bob, { text: 'ghost', quote_of: newId() })).status).toBe(404);
    expect((await h.api('DELETE', `/api/v1/posts/${quote.body.id}`, { token: bob.token })).status).toBe(204);
    expect((await h.api('GET', `/api/v1/posts/${original.id}`)).body.quote_count).toBe(0);
  });
});
