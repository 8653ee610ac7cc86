import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor, newId } from '@nova/platform';
import { startUserService, type TestUser, type UserHarness } from './support.js';

let h: UserHarness;
beforeAll(async () => {
  h = await startUserService();
});
afterAll(async () => {
  await h?.stop();
});

const follow = (by: TestUser, id: string) => h.api('POST', `/api/v1/users/${id}/follow`, { token: by.token });
const requests = (of: TestUser, query = '') => h.api('GET', `/api/v1/users/me/follow-requests${query}`, { token: of.token });
const accept = (by: TestUser, requesterId: string) => h.api('POST', `/api/v1/users/me/follow-requests/${requesterId}/accept`, { token: by.token });
const reject = (by: TestUser, requesterId: string) => h.api('POST', `/api/v1/users/me/follow-requests/${requesterId}/reject`, { token: by.token });

async function privateUser(): Promise<TestUser> {
  const u = await h.newUser();
  await h.db.updateTable('profiles').set({ is_private: true }).where('id', '=', u.id).execute();
  return u;
}

async function counts(id: string): Promise<{ followers: number; following: number }> {
  const p = await h.db.selectFrom('profiles').select(['follower_count', 'following_count']).where('id', '=', id).executeTakeFirstOrThrow();
  return { followers: p.follower_count, following: p.following_count };
}

const isFollowing = async (a: string, b: string) => (await h.db.selectFrom('follows').select('created_at').where('follower_id', '=', a).where('followee_id', '=', b).executeTakeFirst()) !== undefined;
const hasRequest = async (a: string, b: string) => (await h.db.selectFrom('follow_requests').select('created_at').where('requester_id', '=', a).where('target_id', '=', b).executeTakeFirst()) !== undefined;

describe('following a private account', () => {
  it('creates a pending request (202) and records FollowRequested; nobody is followed and no counter moves', async () => {
    const [a, p] = [await h.newUser(), await privateUser()];
    const res = await follow(a, p.id);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ state: 'requested' });
    expect(await hasRequest(a.id, p.id)).toBe(true);
    expect(await isFollowing(a.id, p.id)).toBe(false);
    expect(await counts(p.id)).toEqual({ followers: 0, following: 0 });
    expect(await counts(a.id)).toEqual({ followers: 0, following: 0 });
    const events = await h.outboxEvents('FollowRequested', `${a.id}:${p.id}`);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({ follower_id: a.id, followee_id: p.id });
    expect(await h.outboxEvents('FollowCreated', `${a.id}:${p.id}`)).toEqual([]);
  });

  it('is idempotent: asking again answers 200 requested, one request, one event', async () => {
    const [a, p] = [await h.newUser(), await privateUser()];
    await follow(a, p.id);
    const again = await Promise.all([follow(a, p.id), follow(a, p.id)]);
    for (const r of again) {
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ state: 'requested' });
    }
    expect(await h.outboxEvents('FollowRequested', `${a.id}:${p.id}`)).toHaveLength(1);
  });

  it('answers 200 following for an approved follower (no new request)', async () => {
    const [a, p] = [await h.newUser(), await privateUser()];
    await follow(a, p.id);
    expect((await accept(p, a.id)).status).toBe(204);
    const res = await follow(a, p.id);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ state: 'following' });
    expect(await hasRequest(a.id, p.id)).toBe(false);
  });

  it('DELETE /follow withdraws the pending request (204, FollowRequestWithdrawn); again is a quiet 204', async () => {
    const [a, p] = [await h.newUser(), await privateUser()];
    await follow(a, p.id);
    expect((await h.api('DELETE', `/api/v1/users/${p.id}/follow`, { token: a.token })).status).toBe(204);
    expect(await hasRequest(a.id, p.id)).toBe(false);
    expect((await requests(p)).body.users).toEqual([]);
    expect((await h.api('DELETE', `/api/v1/users/${p.id}/follow`, { token: a.token })).status).toBe(204);
    expect(await h.outboxEvents('FollowRequestWithdrawn', `${a.id}:${p.id}`)).toHaveLength(1);
    expect(await h.outboxEvents('FollowDeleted', `${a.id}:${p.id}`)).toEqual([]);
  });
});

describe('GET /users/me/follow-requests', () => {
  it('lists pending requests newest first with the requesters’ profiles, paged by cursor', async () => {
    const p = await privateUser();
    const askers: TestUser[] = [];
    for (let i = 0; i < 5; i += 1) {
      const u = await h.newUser();
      expect((await follow(u, p.id)).status).toBe(202);
      askers.push(u);
    }
    const all = await requests(p);
    expect(all.status).toBe(200);
    expect(all.body.next_cursor).toBeNull();
    expect(all.body.users.map((u: any) => u.id)).toEqual(askers.map((u) => u.id).reverse());
    const first = all.body.users[0];
    expect(first).toMatchObject({ id: askers[4]!.id, username: askers[4]!.username, is_private: false, follower_count: 0, following_count: 0 });
    expect(Date.parse(first.requested_at)).not.toBeNaN();
    expect(first).not.toHaveProperty('email');

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await requests(p, q);
      expect(page.status).toBe(200);
      expect(page.body.users.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.users.map((u: any) => u.id));
      cursor = page.body.next_cursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(askers.map((u) => u.id).reverse());
  });

  it('shows only the caller’s own requests, and none from deleted people', async () => {
    const [p, q] = [await privateUser(), await privateUser()];
    const [a, b] = [await h.newUser(), await h.newUser()];
    await follow(a, p.id);
    await follow(b, p.id);
    await follow(a, q.id);
    await h.deleteUser(b.id);
    expect((await requests(p)).body.users.map((u: any) => u.id)).toEqual([a.id]);
    expect((await requests(q)).body.users.map((u: any) => u.id)).toEqual([a.id]);
    expect((await requests(a)).body.users).toEqual([]);
  });

  it('validates limit and cursor, and needs a token', async () => {
    const p = await privateUser();
    expect((await requests(p, '?limit=0')).status).toBe(400);
    expect((await requests(p, '?limit=101')).status).toBe(400);
    expect((await requests(p, '?cursor=garbage')).status).toBe(400);
    expect((await requests(p, `?cursor=${encodeCursor(['yesterday', newId()])}`)).status).toBe(400);
    expect((await requests(p, `?cursor=${encodeCursor(['2024-01-01T00:00:00.000000Z', 'nope'])}`)).status).toBe(400);
    expect((await h.api('GET', '/api/v1/users/me/follow-requests')).status).toBe(401);
  });
});

describe('accepting and rejecting', () => {
  it('accept creates the follow with both counters, FollowRequestAccepted then FollowCreated', async () => {
    const [a, p] = [await h.newUser(), await privateUser()];
    await follow(a, p.id);
    const res = await accept(p, a.id);
    expect(res.status).toBe(204);
    expect(await isFollowing(a.id, p.id)).toBe(true);
    expect(await hasRequest(a.id, p.id)).toBe(false);
    expect(await counts(p.id)).toEqual({ followers: 1, following: 0 });
    expect(await counts(a.id)).toEqual({ followers: 0, following: 1 });
    const accepted = await h.outboxEvents('FollowRequestAccepted', `${a.id}:${p.id}`);
    const created = await h.outboxEvents('FollowCreated', `${a.id}:${p.id}`);
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.data).toMatchObject({ follower_id: a.id, followee_id: p.id });
    expect(created.map((e) => e.data)).toEqual([{ follower_id: a.id, followee_id: p.id }]);
    expect((await requests(p)).body.users).toEqual([]);

    // Accepting again: the request is gone (404), and nothing moves.
    expect((await accept(p, a.id)).status).toBe(404);
    expect(await counts(p.id)).toEqual({ followers: 1, following: 0 });
  });

  it('accepting the same request twice at once creates one follow', async () => {
    const [a, p] = [await h.newUser(), await privateUser()];
    await follow(a, p.id);
    const results = await Promise.all([accept(p, a.id), accept(p, a.id), accept(p, a.id)]);
    expect(results.map((r) => r.status).sort()).toEqual([204, 404, 404]);
    expect(await counts(p.id)).toEqual({ followers: 1, following: 0 });
    expect(await counts(a.id)).toEqual({ followers: 0, following: 1 });
  });

  it('reject deletes the request without a follow; the requester may ask again', async () => {
    const [a, p] = [await h.newUser(), await privateUser()];
    await follow(a, p.id);
    expect((await reject(p, a.id)).status).toBe(204);
    expect(await hasRequest(a.id, p.id)).toBe(false);
    expect(await isFollowing(a.id, p.id)).toBe(false);
    expect(await counts(p.id)).toEqual({ followers: 0, following: 0 });
    expect(await h.outboxEvents('FollowRequestRejected', `${a.id}:${p.id}`)).toHaveLength(1);
    expect((await reject(p, a.id)).status).toBe(404);
    expect((await follow(a, p.id)).status).toBe(202);
  });

  it('answers 404 for a request that does not exist: unknown user, the other direction, another target, a deleted requester', async () => {
    const [a, p, other] = [await h.newUser(), await privateUser(), await privateUser()];
    expect((await accept(p, newId())).status).toBe(404);
    expect((await reject(p, newId())).status).toBe(404);
    await follow(a, p.id);
    // Only the target may answer, and only about a request to them.
    expect((await accept(a, p.id)).status).toBe(404);
    expect((await accept(other, a.id)).status).toBe(404);
    const res = await reject(other, a.id);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    expect(await hasRequest(a.id, p.id)).toBe(true);

    await h.deleteUser(a.id);
    expect((await accept(p, a.id)).status).toBe(404);
    expect(await counts(p.id)).toEqual({ followers: 0, following: 0 });
  });

  it('needs a token and a well-formed id', async () => {
    const p = await privateUser();
    expect((await h.api('POST', `/api/v1/users/me/follow-requests/${newId()}/accept`)).status).toBe(401);
    expect((await h.api('POST', `/api/v1/users/me/follow-requests/${newId()}/reject`)).status).toBe(401);
    expect((await accept(p, 'nope')).status).toBe(400);
  });
});
