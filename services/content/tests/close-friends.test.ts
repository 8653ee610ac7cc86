import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@nova/platform';
import { startContentService, type ContentHarness } from './support.js';

describe('close friends', () => {
  let h: ContentHarness;

  beforeAll(async () => {
    h = await startContentService();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('add (idempotent), list newest first with a cursor, remove (idempotent); only the owner’s list', async () => {
    const alice = await h.newUser();
    const [f1, f2, f3] = await Promise.all([h.newUser(), h.newUser(), h.newUser()]);
    for (const f of [f1!, f2!, f3!]) {
      const res = await h.api('PUT', `/api/v1/stories/close-friends/${f.id}`, { token: alice.token });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ user_id: f.id, added: true });
    }
    expect((await h.api('PUT', `/api/v1/stories/close-friends/${f1!.id.toUpperCase()}`, { token: alice.token })).body).toEqual({ user_id: f1!.id, added: false });

    const first = await h.api('GET', '/api/v1/stories/close-friends?limit=2', { token: alice.token });
    expect(first.status).toBe(200);
    expect(first.body.items.map((i: { user_id: string }) => i.user_id)).toEqual([f3!.id, f2!.id]);
    const second = await h.api('GET', `/api/v1/stories/close-friends?limit=2&cursor=${first.body.next_cursor}`, { token: alice.token });
    expect(second.body).toEqual({ items: [{ user_id: f1!.id, added_at: expect.any(String) }], next_cursor: null });
    expect((await h.api('GET', '/api/v1/stories/close-friends', { token: f1!.token })).body).toEqual({ items: [], next_cursor: null });

    expect((await h.api('DELETE', `/api/v1/stories/close-friends/${f2!.id}`, { token: alice.token })).status).toBe(204);
    expect((await h.api('DELETE', `/api/v1/stories/close-friends/${f2!.id}`, { token: alice.token })).status).toBe(204);
    expect((await h.api('GET', '/api/v1/stories/close-friends', { token: alice.token })).body.items.map((i: { user_id: string }) => i.user_id)).toEqual([f3!.id, f1!.id]);
  });

  it('refuses oneself, unknown users and users blocked either way; needs a token', async () => {
    const alice = await h.newUser();
    const bob = await h.newUser();
    expect((await h.api('PUT', `/api/v1/stories/close-friends/${alice.id}`, { token: alice.token })).status).toBe(400);
    expect((await h.api('PUT', `/api/v1/stories/close-friends/${newId()}`, { token: alice.token })).status).toBe(404);
    expect((await h.api('PUT', '/api/v1/stories/close-friends/not-a-uuid', { token: alice.token })).status).toBe(400);
    await h.block(bob, alice);
    expect((await h.api('PUT', `/api/v1/stories/close-friends/${bob.id}`, { token: alice.token })).status).toBe(404);
    expect((await h.api('GET', '/api/v1/stories/close-friends')).status).toBe(401);
  });

  it('a removed close friend stops seeing close-friends stories at once', async () => {
    const alice = await h.newUser();
    const bob = await h.newUser();
    await h.api('PUT', `/api/v1/stories/close-friends/${bob.id}`, { token: alice.token });
    const story = await h.api('POST', '/api/v1/stories', { token: alice.token, body: { media_id: newId(), audience: 'close_friends' } });
    expect((await h.api('GET', `/api/v1/stories/${story.body.id}`, { token: bob.token })).status).toBe(200);
    await h.api('DELETE', `/api/v1/stories/close-friends/${bob.id}`, { token: alice.token });
    expect((await h.api('GET', `/api/v1/stories/${story.body.id}`, { token: bob.token })).status).toBe(404);
  });
});
