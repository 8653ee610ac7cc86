import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, sql } from '@nova/platform';
import { startUserService, type TestUser, type UserHarness } from './support.js';

let h: UserHarness;
beforeAll(async () => {
  h = await startUserService();
});
afterAll(async () => {
  await h?.stop();
});

const follow = (by: TestUser, id: string) => h.api('POST', `/api/v1/users/${id}/follow`, { token: by.token });
const block = (by: TestUser, id: string) => h.api('POST', `/api/v1/users/${id}/block`, { token: by.token });
const unblock = (by: TestUser, id: string) => h.api('DELETE', `/api/v1/users/${id}/block`, { token: by.token });

async function counts(id: string): Promise<{ followers: number; following: number }> {
  const p = await h.db.selectFrom('profiles').select(['follower_count', 'following_count']).where('id', '=', id).executeTakeFirstOrThrow();
  return { followers: p.follower_count, following: p.following_count };
}

async function privateUser(): Promise<TestUser> {
  const u = await h.newUser();
  await h.db.updateTable('profiles').set({ is_private: true }).where('id', '=', u.id).execute();
  return u;
}

const edgeCount = async (table: 'follows' | 'follow_requests' | 'blocks', a: string, b: string) => {
  const [x, y] = table === 'follows' ? (['follower_id', 'followee_id'] as const) : table === 'follow_requests' ? (['requester_id', 'target_id'] as const) : (['blocker_id', 'blocked_id'] as const);
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM ${sql.table(`users.${table}`)} WHERE (${sql.ref(x)} = ${a} AND ${sql.ref(y)} = ${b}) OR (${sql.ref(x)} = ${b} AND ${sql.ref(y)} = ${a})`.execute(h.db);
  return rows[0]!.n;
};

describe('POST /users/:id/block', () => {
  it('ends follows both ways (counters corrected, FollowDeleted each) and records UserBlocked', async () => {
    const [a, b, c] = [await h.newUser(), await h.newUser(), await h.newUser()];
    await follow(a, b.id);
    await follow(b, a.id);
    await follow(c, a.id);
    await follow(c, b.id);
    const res = await block(a, b.id);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ blocking: true });
    expect(await edgeCount('follows', a.id, b.id)).toBe(0);
    expect(await counts(a.id)).toEqual({ followers: 1, following: 0 });
    expect(await counts(b.id)).toEqual({ followers: 1, following: 0 });
    // Third parties keep their follows.
    expect(await counts(c.id)).toEqual({ followers: 0, following: 2 });

    const blocked = await h.outboxEvents('UserBlocked', `${a.id}:${b.id}`);
    expect(blocked.map((e) => e.data)).toEqual([{ blocker_id: a.id, blocked_id: b.id }]);
    const { rows } = await sql<{ subject: string }>`SELECT subject FROM users.outbox WHERE event_type = 'UserBlocked' LIMIT 1`.execute(h.db);
    expect(rows[0]!.subject).toBe(`${h.env.natsPrefix}.user.block.created`);
    expect((await h.outboxEvents('FollowDeleted', `${a.id}:${b.id}`)).map((e) => e.data)).toEqual([{ follower_id: a.id, followee_id: b.id, reason: 'blocked' }]);
    expect((await h.outboxEvents('FollowDeleted', `${b.id}:${a.id}`)).map((e) => e.data)).toEqual([{ follower_id: b.id, followee_id: a.id, reason: 'blocked' }]);
  });

  it('drops pending follow requests both ways', async () => {
    const [p, q] = [await privateUser(), await privateUser()];
    expect((await follow(p, q.id)).status).toBe(202);
    expect((await follow(q, p.id)).status).toBe(202);
    expect((await block(p, q.id)).status).toBe(201);
    expect(await edgeCount('follow_requests', p.id, q.id)).toBe(0);
    expect((await h.api('GET', '/api/v1/users/me/follow-requests', { token: p.token })).body.users).toEqual([]);
    expect((await h.api('GET', '/api/v1/users/me/follow-requests', { token: q.token })).body.users).toEqual([]);
    expect((await h.api('POST', `/api/v1/users/me/follow-requests/${q.id}/accept`, { token: p.token })).status).toBe(404);
  });

  it('is idempotent: blocking again answers 200 and changes nothing', async () => {
    const [a, b] = [await h.newUser(), await h.newUser()];
    expect((await block(a, b.id)).status).toBe(201);
    const again = await Promise.all([block(a, b.id), block(a, b.id)]);
    for (const r of again) {
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ blocking: true });
    }
    expect(await h.outboxEvents('UserBlocked', `${a.id}:${b.id}`)).toHaveLength(1);
  });

  it('refuses oneself (400), a missing or deleted user (404), a malformed id (400) and no token (401)', async () => {
    const [a, gone] = [await h.newUser(), await h.newUser()];
    await h.deleteUser(gone.id);
    const self = await block(a, a.id);
    expect(self.status).toBe(400);
    expect(self.body.error.code).toBe('BAD_REQUEST');
    expect((await unblock(a, a.id)).status).toBe(400);
    expect((await block(a, newId())).status).toBe(404);
    expect((await block(a, gone.id)).status).toBe(404);
    expect((await block(a, 'x')).status).toBe(400);
    expect((await h.api('POST', `/api/v1/users/${a.id}/block`)).status).toBe(401);
    expect((await h.api('DELETE', `/api/v1/users/${a.id}/block`)).status).toBe(401);
  });

  it('hides each from the other: profile, follows and the blocked user’s own block attempt all answer like a missing user', async () => {
    const [a, b] = [await h.newUser(), await h.newUser()];
    expect((await block(a, b.id)).status).toBe(201);
    const missing = await follow(b, newId());
    for (const [who, other] of [[a, b], [b, a]] as const) {
      const res = await follow(who, other.id);
      expect(res.status).toBe(404);
      expect(res.body.error.message).toBe(missing.body.error.message);
      expect((await h.api('GET', `/api/v1/users/${other.id}`, { token: who.token })).status).toBe(404);
    }
    // The blocked one cannot tell the block from a missing account, even by blocking back.
    const back = await block(b, a.id);
    expect(back.status).toBe(404);
    expect(back.body.error.message).toBe(missing.body.error.message);
    expect(await edgeCount('blocks', a.id, b.id)).toBe(1);
  });
});

describe('DELETE /users/:id/block', () => {
  it('lifts the block (204, UserUnblocked) without restoring follows; again is a quiet 204', async () => {
    const [a, b] = [await h.newUser(), await h.newUser()];
    await follow(a, b.id);
    await block(a, b.id);
    const res = await unblock(a, b.id);
    expect(res.status).toBe(204);
    expect(await edgeCount('blocks', a.id, b.id)).toBe(0);
    expect(await edgeCount('follows', a.id, b.id)).toBe(0);
    expect((await h.outboxEvents('UserUnblocked', `${a.id}:${b.id}`)).map((e) => e.data)).toEqual([{ blocker_id: a.id, blocked_id: b.id }]);
    expect((await unblock(a, b.id)).status).toBe(204);
    expect((await unblock(a, newId())).status).toBe(204);
    expect(await h.outboxEvents('UserUnblocked', `${a.id}:${b.id}`)).toHaveLength(1);

    // Both may follow again.
    expect((await follow(a, b.id)).status).toBe(201);
    expect((await follow(b, a.id)).status).toBe(201);
    expect((await h.api('GET', `/api/v1/users/${a.id}`, { token: b.token })).status).toBe(200);
  });

  it('only lifts the caller’s own block', async () => {
    const [a, b] = [await h.newUser(), await h.newUser()];
    await block(a, b.id);
    expect((await unblock(b, a.id)).status).toBe(204);
    expect(await edgeCount('blocks', a.id, b.id)).toBe(1);
    expect((await follow(b, a.id)).status).toBe(404);
  });
});

describe('GET /users/me/blocks', () => {
  it('lists the people the caller blocks, most recent first, paged', async () => {
    const me = await h.newUser();
    const others = await Promise.all(Array.from({ length: 5 }, () => h.newUser()));
    for (const o of others) expect((await block(me, o.id)).status).toBe(201);
    await unblock(me, others[1]!.id);
    const expected = [others[4]!, others[3]!, others[2]!, others[0]!].map((o) => o.id);

    const first = await h.api('GET', '/api/v1/users/me/blocks?limit=3', { token: me.token });
    expect(first.status).toBe(200);
    expect(first.body.users.map((u: any) => u.id)).toEqual(expected.slice(0, 3));
    expect(first.body.users[0]).toMatchObject({ id: others[4]!.id, username: others[4]!.username });
    expect(Date.parse(first.body.users[0].blocked_at)).not.toBeNaN();
    const second = await h.api('GET', `/api/v1/users/me/blocks?limit=3&cursor=${encodeURIComponent(first.body.next_cursor)}`, { token: me.token });
    expect(second.body.users.map((u: any) => u.id)).toEqual(expected.slice(3));
    expect(second.body.next_cursor).toBeNull();

    // Blocks of others are not shown; those who block the caller are not revealed.
    expect((await h.api('GET', '/api/v1/users/me/blocks', { token: others[0]!.token })).body.users).toEqual([]);
    expect((await h.api('GET', '/api/v1/users/me/blocks')).status).toBe(401);
  });
});

describe('blocks racing follows', () => {
  it('leave no follow between the two and exact counters, whatever the order', async () => {
    for (let round = 0; round < 10; round += 1) {
      const [a, b] = [await h.newUser(), await h.newUser()];
      const results = await Promise.all([follow(a, b.id), follow(b, a.id), block(a, b.id), follow(a, b.id)]);
      for (const r of results) expect([200, 201, 404]).toContain(r.status);
      expect(results[2]!.status).toBe(201);
      expect(await edgeCount('follows', a.id, b.id)).toBe(0);
      expect(await counts(a.id)).toEqual({ followers: 0, following: 0 });
      expect(await counts(b.id)).toEqual({ followers: 0, following: 0 });
    }
  });
});
