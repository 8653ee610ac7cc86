import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor, newId, sql } from '@nova/platform';
import { startUserService, type TestUser, type UserHarness } from './support.js';

let h: UserHarness;
beforeAll(async () => {
  h = await startUserService();
});
afterAll(async () => {
  await h?.stop();
});

type Direction = 'followers' | 'following';
const list = (id: string, direction: Direction, opts: { token?: string; query?: string } = {}) =>
  h.api('GET', `/api/v1/users/${id}/${direction}${opts.query ?? ''}`, opts.token === undefined ? {} : { token: opts.token });
const follow = (by: TestUser, id: string) => h.api('POST', `/api/v1/users/${id}/follow`, { token: by.token });
const ids = (res: { body: any }) => (res.body.users as Array<{ id: string }>).map((u) => u.id);

/** Every page of a list, following next_cursor; `between` runs after each page (to change the graph meanwhile). */
async function allPages(id: string, direction: Direction, limit: number, opts: { token?: string; between?: (page: number) => Promise<void> } = {}) {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await list(id, direction, { query, ...(opts.token === undefined ? {} : { token: opts.token }) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.users.length).toBeLessThanOrEqual(limit);
    seen.push(...ids(res));
    cursor = res.body.next_cursor;
    pages += 1;
    await opts.between?.(pages);
  } while (cursor);
  return { seen, pages };
}

async function counts(id: string): Promise<{ followers: number; following: number }> {
  const p = await h.db.selectFrom('profiles').select(['follower_count', 'following_count']).where('id', '=', id).executeTakeFirstOrThrow();
  return { followers: p.follower_count, following: p.following_count };
}

async function privateUser(): Promise<TestUser> {
  const u = await h.newUser();
  await h.db.updateTable('profiles').set({ is_private: true }).where('id', '=', u.id).execute();
  return u;
}

/** Sets when a follow began, to the microsecond. */
async function setFollowedAt(followerId: string, followeeId: string, at: string): Promise<void> {
  await sql`UPDATE users.follows SET created_at = ${at}::timestamptz WHERE follower_id = ${followerId} AND followee_id = ${followeeId}`.execute(h.db);
}

describe('GET /users/:id/followers and /following', () => {
  it('lists profiles newest follow first, each with followed_at, to anyone (no token needed)', async () => {
    const [t, a, b, c] = [await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    for (const u of [a, b, c]) expect((await follow(u, t.id)).status).toBe(201);
    expect((await follow(t, a.id)).status).toBe(201);

    const followers = await list(t.id, 'followers');
    expect(followers.status).toBe(200);
    expect(ids(followers)).toEqual([c.id, b.id, a.id]);
    expect(followers.body.next_cursor).toBeNull();
    const first = followers.body.users[0];
    expect(first).toMatchObject({ id: c.id, username: c.username, display_name: null, avatar_media_id: null, is_private: false, follower_count: 0, following_count: 1 });
    expect(first).not.toHaveProperty('email');
    const times = followers.body.users.map((u: any) => Date.parse(u.followed_at));
    expect([...times].sort((x, y) => y - x)).toEqual(times);

    expect(ids(await list(t.id, 'following'))).toEqual([a.id]);
    expect(ids(await list(a.id, 'following', { token: a.token }))).toEqual([t.id]);
    expect(ids(await list(a.id, 'followers', { token: b.token }))).toEqual([t.id]);
    expect(ids(await h.api('GET', '/api/v1/users/me/followers', { token: t.token }))).toEqual([c.id, b.id, a.id]);
    expect(ids(await h.api('GET', '/api/v1/users/me/following', { token: t.token }))).toEqual([a.id]);
  });

  it('answers 404 for a missing or deleted user, 400 for a malformed id, 401 for /me without a token', async () => {
    const gone = await h.newUser();
    await h.deleteUser(gone.id);
    for (const d of ['followers', 'following'] as const) {
      expect((await list(newId(), d)).status).toBe(404);
      expect((await list(gone.id, d)).status).toBe(404);
      expect((await list('nope', d)).status).toBe(400);
      expect((await h.api('GET', `/api/v1/users/me/${d}`)).status).toBe(401);
    }
  });

  it('pages 20 at a time by default, up to 100, and refuses other limits and edited cursors', async () => {
    const t = await h.newUser();
    const fans = await Promise.all(Array.from({ length: 25 }, () => h.newUser()));
    for (const f of fans) await h.insertFollow(f.id, t.id);
    const first = await list(t.id, 'followers');
    expect(first.body.users).toHaveLength(20);
    expect(typeof first.body.next_cursor).toBe('string');
    expect((await list(t.id, 'followers', { query: '?limit=100' })).body.users).toHaveLength(25);
    for (const q of ['?limit=0', '?limit=101', '?limit=abc', '?cursor=***', `?cursor=${encodeCursor(['2024-01-01', newId()])}`, `?cursor=${encodeCursor([1, 2])}`, `?cursor=${encodeCursor(['2024-01-01T00:00:00.000000Z', 'x'])}`]) {
      const res = await list(t.id, 'followers', { query: q });
      expect(res.status, q).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('pages without gaps or duplicates, follows in the same millisecond included, while new follows arrive', async () => {
    const t = await h.newUser();
    const fans = await Promise.all(Array.from({ length: 45 }, () => h.newUser()));
    for (const f of fans) await h.insertFollow(f.id, t.id);
    // Groups of three share a millisecond (distinct microseconds); two pairs share the very same microsecond.
    for (const [i, f] of fans.entries()) {
      const micros = i === 10 || i === 11 ? 500 : i === 30 || i === 31 ? 700 : 100 + (i % 3) * 100;
      const ms = Math.floor(i / 3);
      await setFollowedAt(f.id, t.id, `2024-05-01T12:00:00.${String(ms).padStart(3, '0')}${String(micros).padStart(3, '0')}Z`);
    }
    const { rows } = await sql<{ follower_id: string }>`
      SELECT follower_id FROM users.follows WHERE followee_id = ${t.id} ORDER BY created_at DESC, follower_id ASC`.execute(h.db);
    const expected = rows.map((r) => r.follower_id);

    const late: TestUser[] = [];
    const { seen, pages } = await allPages(t.id, 'followers', 7, {
      between: async (page) => {
        if (page > 3) return;
        const u = await h.newUser();
        expect((await follow(u, t.id)).status).toBe(201);
        late.push(u);
      },
    });
    expect(pages).toBe(7);
    expect(seen).toEqual(expected);
    expect(new Set(seen).size).toBe(45);

    // Page size 1 walks across every tie.
    expect((await allPages(t.id, 'followers', 1)).seen.slice(late.length)).toEqual(expected);
    // The newcomers are at the top of a fresh read.
    expect(ids(await list(t.id, 'followers', { query: '?limit=3' }))).toEqual(late.map((u) => u.id).reverse());
  });

  it('pages the following list the same way', async () => {
    const fan = await h.newUser();
    const stars = await Promise.all(Array.from({ length: 12 }, () => h.newUser()));
    for (const s of stars) await h.insertFollow(fan.id, s.id);
    for (const [i, s] of stars.entries()) await setFollowedAt(fan.id, s.id, `2024-06-01T00:00:00.000${String(i % 4).padStart(3, '0')}Z`);
    const { rows } = await sql<{ followee_id: string }>`
      SELECT followee_id FROM users.follows WHERE follower_id = ${fan.id} ORDER BY created_at DESC, followee_id ASC`.execute(h.db);
    expect((await allPages(fan.id, 'following', 5)).seen).toEqual(rows.map((r) => r.followee_id));
  });
});

describe("a private account's lists", () => {
  it('are for the owner and approved followers; anyone else gets 403 private_account', async () => {
    const [p, approved, pending, stranger, followee] = [await privateUser(), await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    expect((await follow(approved, p.id)).status).toBe(202);
    expect((await h.api('POST', `/api/v1/users/me/follow-requests/${approved.id}/accept`, { token: p.token })).status).toBe(204);
    expect((await follow(pending, p.id)).status).toBe(202);
    expect((await follow(p, followee.id)).status).toBe(201);

    for (const d of ['followers', 'following'] as const) {
      for (const [who, token] of [['anonymous', undefined], ['stranger', stranger.token], ['pending requester', pending.token]] as const) {
        const res = await list(p.id, d, token === undefined ? {} : { token });
        expect(res.status, `${who} ${d}`).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
        expect(res.body.error.details).toEqual({ reason: 'private_account' });
      }
      expect((await list(p.id, d, { token: approved.token })).status).toBe(200);
      expect((await list(p.id, d, { token: p.token })).status).toBe(200);
    }
    expect(ids(await list(p.id, 'followers', { token: approved.token }))).toEqual([approved.id]);
    expect(ids(await list(p.id, 'following', { token: approved.token }))).toEqual([followee.id]);
    expect(ids(await h.api('GET', '/api/v1/users/me/followers', { token: p.token }))).toEqual([approved.id]);

    // Unfollowing takes the access away again.
    expect((await h.api('DELETE', `/api/v1/users/${p.id}/follow`, { token: approved.token })).status).toBe(204);
    expect((await list(p.id, 'followers', { token: approved.token })).status).toBe(403);
  });
});

describe('blocks and lists', () => {
  it('leave out people blocked by or blocking the viewer; a list owner who blocks the viewer is 404', async () => {
    const [t, viewer, blockedByViewer, blocksViewer, plain] = [await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    for (const u of [blockedByViewer, blocksViewer, plain]) {
      await follow(u, t.id);
      await follow(t, u.id);
    }
    expect((await h.api('POST', `/api/v1/users/${blockedByViewer.id}/block`, { token: viewer.token })).status).toBe(201);
    expect((await h.api('POST', `/api/v1/users/${viewer.id}/block`, { token: blocksViewer.token })).status).toBe(201);

    const everyone = [plain.id, blocksViewer.id, blockedByViewer.id];
    expect(ids(await list(t.id, 'followers'))).toEqual(everyone);
    expect(ids(await list(t.id, 'following'))).toEqual(everyone);
    expect(ids(await list(t.id, 'followers', { token: viewer.token }))).toEqual([plain.id]);
    expect(ids(await list(t.id, 'following', { token: viewer.token }))).toEqual([plain.id]);
    // The counters still count everybody: they are the account's, not the viewer's.
    expect(await counts(t.id)).toEqual({ followers: 3, following: 3 });

    expect((await h.api('POST', `/api/v1/users/${viewer.id}/block`, { token: t.token })).status).toBe(201);
    expect((await list(t.id, 'followers', { token: viewer.token })).status).toBe(404);
    expect((await list(t.id, 'following', { token: viewer.token })).status).toBe(404);
    expect((await list(viewer.id, 'followers', { token: t.token })).status).toBe(404);
  });
});

describe('a deleted user', () => {
  it('vanishes from every list once UserDeleted is handled, with the counters corrected', async () => {
    const [t, gone, stays, other] = [await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    await follow(gone, t.id);
    await follow(stays, t.id);
    await follow(t, gone.id);
    await follow(gone, other.id);
    expect(await counts(t.id)).toEqual({ followers: 2, following: 1 });

    await h.deleteUser(gone.id);
    expect(ids(await list(t.id, 'followers'))).toEqual([stays.id]);
    expect(ids(await list(t.id, 'following'))).toEqual([]);
    expect(ids(await list(other.id, 'followers'))).toEqual([]);
    expect(await counts(t.id)).toEqual({ followers: 1, following: 0 });
    expect(await counts(other.id)).toEqual({ followers: 0, following: 0 });
    expect((await list(gone.id, 'followers')).status).toBe(404);
  });

  it('never appears, even while a follow row of theirs is still there', async () => {
    const [t, a, b] = [await h.newUser(), await h.newUser(), await h.newUser()];
    await follow(a, t.id);
    await follow(b, t.id);
    // The profile is soft-deleted but the consumer's clean-up has not run (yet).
    await h.db.updateTable('profiles').set({ deleted_at: new Date(), deleted_by: a.id }).where('id', '=', a.id).execute();
    expect(ids(await list(t.id, 'followers'))).toEqual([b.id]);
  });
});
