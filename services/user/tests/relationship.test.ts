import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@nova/platform';
import { startUserService, type TestUser, type UserHarness } from './support.js';

let h: UserHarness;
beforeAll(async () => {
  h = await startUserService();
});
afterAll(async () => {
  await h?.stop();
});

const relationship = (of: TestUser, id: string) => h.api('GET', `/api/v1/users/${id}/relationship`, { token: of.token });
const follow = (by: TestUser, id: string) => h.api('POST', `/api/v1/users/${id}/follow`, { token: by.token });
const NONE = { following: false, followed_by: false, requested: false, requested_by: false, blocking: false, blocked_by: false, muting: false };

async function privateUser(): Promise<TestUser> {
  const u = await h.newUser();
  await h.db.updateTable('profiles').set({ is_private: true }).where('id', '=', u.id).execute();
  return u;
}

describe('GET /users/:id/relationship', () => {
  it('is all false between strangers, and for oneself', async () => {
    const [a, b] = [await h.newUser(), await h.newUser()];
    const res = await relationship(a, b.id);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(NONE);
    expect((await relationship(a, a.id)).body).toEqual(NONE);
  });

  it('shows follows in each direction', async () => {
    const [a, b] = [await h.newUser(), await h.newUser()];
    await follow(a, b.id);
    expect((await relationship(a, b.id)).body).toEqual({ ...NONE, following: true });
    expect((await relationship(b, a.id)).body).toEqual({ ...NONE, followed_by: true });
    await follow(b, a.id);
    expect((await relationship(a, b.id)).body).toEqual({ ...NONE, following: true, followed_by: true });
  });

  it('shows pending follow requests in each direction, and their outcome', async () => {
    const [a, p] = [await h.newUser(), await privateUser()];
    await follow(a, p.id);
    expect((await relationship(a, p.id)).body).toEqual({ ...NONE, requested: true });
    expect((await relationship(p, a.id)).body).toEqual({ ...NONE, requested_by: true });
    await h.api('POST', `/api/v1/users/me/follow-requests/${a.id}/accept`, { token: p.token });
    expect((await relationship(a, p.id)).body).toEqual({ ...NONE, following: true });
    expect((await relationship(p, a.id)).body).toEqual({ ...NONE, followed_by: true });
  });

  it('shows the caller’s own block, and answers 404 — like the profile — to the person blocked', async () => {
    const [a, b] = [await h.newUser(), await h.newUser()];
    await follow(a, b.id);
    expect((await h.api('POST', `/api/v1/users/${b.id}/block`, { token: a.token })).status).toBe(201);
    expect((await relationship(a, b.id)).body).toEqual({ ...NONE, blocking: true });

    const blocked = await relationship(b, a.id);
    const missing = await relationship(b, newId());
    expect(blocked.status).toBe(404);
    expect(blocked.body.error).toMatchObject({ code: 'NOT_FOUND', message: missing.body.error.message });

    await h.api('DELETE', `/api/v1/users/${b.id}/block`, { token: a.token });
    expect((await relationship(b, a.id)).body).toEqual(NONE);
  });

  it('shows a mute that has not expired (without expiry, or expiring later), not an expired one', async () => {
    const [a, b, c, d] = [await h.newUser(), await h.newUser(), await h.newUser(), await h.newUser()];
    await h.db
      .insertInto('mutes')
      .values([
        { muter_id: a.id, muted_id: b.id, expires_at: null },
        { muter_id: a.id, muted_id: c.id, expires_at: new Date(Date.now() + 3_600_000) },
        { muter_id: a.id, muted_id: d.id, expires_at: new Date(Date.now() - 1_000) },
      ])
      .execute();
    expect((await relationship(a, b.id)).body).toEqual({ ...NONE, muting: true });
    expect((await relationship(a, c.id)).body).toEqual({ ...NONE, muting: true });
    expect((await relationship(a, d.id)).body).toEqual(NONE);
    // A mute is the muter's alone: the muted person sees nothing.
    expect((await relationship(b, a.id)).body).toEqual(NONE);
  });

  it('answers 404 for a missing or deleted user, 400 for a malformed id, 401 without a token', async () => {
    const [a, gone] = [await h.newUser(), await h.newUser()];
    await follow(a, gone.id);
    await h.deleteUser(gone.id);
    expect((await relationship(a, gone.id)).status).toBe(404);
    expect((await relationship(a, newId())).status).toBe(404);
    expect((await relationship(a, 'nope')).status).toBe(400);
    expect((await h.api('GET', `/api/v1/users/${a.id}/relationship`)).status).toBe(401);
  });
});
