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
const unfollow = (by: TestUser, id: string) => h.api('DELETE', `/api/v1/users/${id}/follow`, { token: by.token });

async function counts(id: string): Promise<{ followers: number; following: number }> {
  const p = await h.db.selectFrom('profiles').select(['follower_count', 'following_count']).where('id', '=', id).executeTakeFirstOrThrow();
  return { followers: p.follower_count, following: p.following_count };
}

/** Profiles whose counters differ from the rows of the follow table (should be none, ever). */
async function counterMismatches(): Promise<unknown[]> {
  const { rows } = await sql`
    SELECT p.id, p.follower_count, p.following_count,
           (SELECT count(*)::int FROM users.follows f WHERE f.followee_id = p.id) AS follower_rows,
           (SELECT count(*)::int FROM users.follows f WHERE f.follower_id = p.id) AS following_rows
      FROM users.profiles p
     WHERE p.follower_count <> (SELECT count(*) FROM users.follows f WHERE f.followee_id = p.id)
        OR p.following_count <> (SELECT count(*) FROM users.follows f WHERE f.follower_id = p.id)`.execute(h.db);
  return rows;
}

async function follows(followerId: string, followeeId: string): Promise<boolean> {
  return (await h.db.selectFrom('follows').select('created_at').where('follower_id', '=', followerId).where('followee_id', '=', followeeId).executeTakeFirst()) !== undefined;
}

describe('POST /users/:id/follow on a public account', () => {
  it('follows at once (201), moves both counters and records FollowCreated', async () => {
    const [a, b] = [await h.newUser(), await h.newUser()];
    const res = await follow(a, b.id);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ state: 'following' });
    expect(await follows(a.id, b.id)).toBe(true);
    expect(await counts(b.id)).toEqual({ followers: 1, following: 0 });
    expect(await counts(a.id)).toEqual({ followers: 0, following: 1 });

    const events = await h.outboxEvents('FollowCreated', `${a.id}:${b.id}`);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toEqual({ follower_id: a.id, followee_id: b.id });
    const { rows } = await sql<{ subject: string }>`SELECT subject FROM users.outbox WHERE event_type = 'FollowCreated' LIMIT 1`.execute(h.db);
    expect(rows[0]!.subject).toBe(`${h.env.natsPrefix}.user.follow.created`);
  });

  it('is idempotent: following again answers 200 with the same state and changes nothing', async () => {
    const [a, b] = [await h.newUser(), await h.newUser()];
    expect((await follow(a, b.id)).status).toBe(201);
    const again = await follow(a, b.id);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ state: 'following' });
    expect(await counts(b.id)).toEqual({ followers: 1, following: 0 });
    expect(await h.outboxEvents('FollowCreated', `${a.id}:${b.id}`)).toHaveLength(1);
  });

  it('takes the id in any letter case (the self check too)', async () => {
    const [a, b] = [await h.newUser(), await h.newUser()];
    expect((await follow(a, b.id.toUpperCase())).status).toBe(201);
    expect((await follow(a, b.id)).status).toBe(200);
    expect(await follows(a.id, b.id)).toBe(true);
    const self = await follow(a, a.id.toUpperCase());
    expect(self.status).toBe(400);
  });

  it('refuses to follow oneself (400), on both verbs', async () => {
    const a = await h.newUser();
    const res = await follow(a, a.id);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('BAD_REQUEST');
    expect((await unfollow(a, a.id)).status).toBe(400);
    expect(await counts(a.id)).toEqual({ followers: 0, following: 0 });
  });

  it('answers 404 for a user who never existed or was deleted, 400 for a malformed id, 401 without a token', async () => {
    const a = await h.newUser();
    const missing = await follow(a, newId());
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');

    const gone = await h.newUser();
    await h.deleteUser(gone.id);
    const deleted = await follow(a, gone.id);
    expect(deleted.status).toBe(404);
    expect(deleted.body.error).toMatchObject({ code: 'NOT_FOUND', message: missing.body.error.message });

    expect((await follow(a, 'not-a-uuid')).status).toBe(400);
    expect((await h.api('POST', `/api/v1/users/${a.id}/follow`)).status).toBe(401);
    expect((await h.api('DELETE', `/api/v1/users/${a.id}/follow`)).status).toBe(401);
    expect(await counts(a.id)).toEqual({ followers: 0, following: 0 });
  });

  it('answers 404, exactly like a missing user, when either side blocks the other', async () => {
    const [a, b, c] = [await h.newUser(), await h.newUser(), await h.newUser()];
    expect((await h.api('POST', `/api/v1/users/${a.id}/block`, { token: b.token })).status).toBe(201);
    const blockedBy = await follow(a, b.id);
    const missing = await follow(a, newId());
    expect(blockedBy.status).toBe(404);
    expect(blockedBy.body.error.message).toBe(missing.body.error.message);
    // ...and the blocker cannot follow the person they block either.
    expect((await follow(b, a.id)).status).toBe(404);

    expect((await h.api('POST', `/api/v1/users/${c.id}/block`, { token: a.token })).status).toBe(201);
    expect((await follow(a, c.id)).status).toBe(404);
    expect(await follows(a.id, b.id)).toBe(false);
    expect(await follows(a.id, c.id)).toBe(false);
  });

  it('refuses a caller whose own account was deleted (404)', async () => {
    const [a, b] = [await h.newUser(), await h.newUser()];
    await h.deleteUser(a.id);
    expect((await follow(a, b.id)).status).toBe(404);
    expect(await counts(b.id)).toEqual({ followers: 0, following: 0 });
  });

  it('turns a request left from when the account was private into a follow once it is public', async () => {
    const [a, b] = [await h.newUser(), await h.newUser()];
    await h.db.updateTable('profiles').set({ is_private: true }).where('id', '=', b.id).execute();
    expect((await follow(a, b.id)).status).toBe(202);
    // Flipped behind the API's back, so the pending request survives.
    await h.db.updateTable('profiles').set({ is_private: false }).where('id', '=', b.id).execute();
    const res = await follow(a, b.id);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ state: 'following' });
    expect(await h.db.selectFrom('follow_requests').selectAll().where('requester_id', '=', a.id).execute()).toEqual([]);
    expect(await counts(b.id)).toEqual({ followers: 1, following: 0 });
  });
});

describe('DELETE /users/:id/follow', () => {
  it('unfollows (204), moves both counters back and records FollowDeleted; again is a 204 that does nothing', async () => {
    const [a, b] = [await h.newUser(), await h.newUser()];
    await follow(a, b.id);
    const res = await unfollow(a, b.id);
    expect(res.status).toBe(204);
    expect(await follows(a.id, b.id)).toBe(false);
    expect(await counts(b.id)).toEqual({ followers: 0, following: 0 });
    expect(await counts(a.id)).toEqual({ followers: 0, following: 0 });
    const events = await h.outboxEvents('FollowDeleted', `${a.id}:${b.id}`);
    expect(events.map((e) => e.data)).toEqual([{ follower_id: a.id, followee_id: b.id, reason: 'unfollowed' }]);

    expect((await unfollow(a, b.id)).status).toBe(204);
    expect(await counts(b.id)).toEqual({ followers: 0, following: 0 });
    expect(await h.outboxEvents('FollowDeleted', `${a.id}:${b.id}`)).toHaveLength(1);
  });

  it('is a 204 for someone never followed, missing or deleted', async () => {
    const [a, b] = [await h.newUser(), await h.newUser()];
    expect((await unfollow(a, b.id)).status).toBe(204);
    expect((await unfollow(a, newId())).status).toBe(204);
    await follow(a, b.id);
    await h.deleteUser(b.id);
    expect((await unfollow(a, b.id)).status).toBe(204);
    expect(await counts(a.id)).toEqual({ followers: 0, following: 0 });
  });
});

describe('counters under concurrency', () => {
  it('stay equal to the follow rows when 20 people follow one account at once, with duplicates and unfollows racing', async () => {
    const star = await h.newUser();
    const fans = await Promise.all(Array.from({ length: 20 }, () => h.newUser()));
    // Every fan follows twice at once; the first five also unfollow at the same moment.
    const calls = fans.flatMap((f, i) => [follow(f, star.id), follow(f, star.id), ...(i < 5 ? [unfollow(f, star.id)] : [])]);
    const results = await Promise.all(calls);
    for (const r of results) expect([200, 201, 204]).toContain(r.status);
    // Per fan, exactly one of the two follows created the follow (the other saw it, or came after an unfollow).
    const created = results.filter((r) => r.status === 201).length;
    expect(created).toBeGreaterThanOrEqual(20);

    const rows = await h.db.selectFrom('follows').select('follower_id').where('followee_id', '=', star.id).execute();
    expect((await counts(star.id)).followers).toBe(rows.length);
    for (const f of fans) {
      const c = await counts(f.id);
      expect(c.following).toBe(rows.some((r) => r.follower_id === f.id) ? 1 : 0);
    }
    // FollowCreated and FollowDeleted events balance to the rows that remain.
    const createdEvents = (await h.outboxEvents('FollowCreated')).filter((e) => e.data.followee_id === star.id).length;
    const deletedEvents = (await h.outboxEvents('FollowDeleted')).filter((e) => e.data.followee_id === star.id).length;
    expect(createdEvents - deletedEvents).toBe(rows.length);

    // Settle the racing unfollows: everyone follows afterwards, and the counter says 20.
    await Promise.all(fans.map((f) => follow(f, star.id)));
    expect((await counts(star.id)).followers).toBe(20);
    expect(await counterMismatches()).toEqual([]);
  });

  it('never deadlocks or miscounts when people follow each other both ways at the same moment', async () => {
    const people = await Promise.all(Array.from({ length: 8 }, () => h.newUser()));
    const calls = [];
    for (const a of people) for (const b of people) if (a !== b) calls.push(follow(a, b.id));
    const results = await Promise.all(calls);
    expect(results.filter((r) => r.status !== 201).map((r) => r.body)).toEqual([]);
    for (const p of people) expect(await counts(p.id)).toEqual({ followers: 7, following: 7 });

    const undo = [];
    for (const a of people) for (const b of people) if (a !== b) undo.push(unfollow(a, b.id), follow(a, b.id));
    const again = await Promise.all(undo);
    expect(again.filter((r) => r.status >= 300).map((r) => r.body)).toEqual([]);
    expect(await counterMismatches()).toEqual([]);
  });
});
