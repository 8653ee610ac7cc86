import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, sql } from '@nova/platform';
import { eventually } from '@nova/testing';
import { newUsername, startUserService, type UserHarness } from './support.js';

let h: UserHarness;
beforeAll(async () => {
  h = await startUserService();
});
afterAll(async () => {
  await h?.stop();
});

const PROFILE_KEYS = ['avatar_media_id', 'bio', 'cover_media_id', 'created_at', 'display_name', 'follower_count', 'following_count', 'id', 'is_private', 'location', 'post_count', 'username', 'website'];

describe('GET /api/v1/users/me', () => {
  it("answers the caller's profile with the account's email from auth", async () => {
    const me = await h.newUser();
    const res = await h.api('GET', '/api/v1/users/me', { token: me.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: me.id,
      username: me.username,
      email: `${me.username.toLowerCase()}@example.test`,
      display_name: null,
      bio: null,
      avatar_media_id: null,
      cover_media_id: null,
      location: null,
      website: null,
      is_private: false,
      follower_count: 0,
      following_count: 0,
      post_count: 0,
      created_at: expect.any(String),
    });
    expect(Date.parse(res.body.created_at)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('answers email null for an account without one (some OAuth sign-ups)', async () => {
    const me = await h.newUser(undefined, { email: null });
    const res = await h.api('GET', '/api/v1/users/me', { token: me.token });
    expect(res.status).toBe(200);
    expect(res.body.email).toBeNull();
  });

  it('needs a valid access token', async () => {
    expect((await h.api('GET', '/api/v1/users/me')).status).toBe(401);
    const me = await h.newUser();
    expect((await h.api('GET', '/api/v1/users/me', { token: await h.issuer.sign({ sub: me.id, token_type: 'refresh' }) })).status).toBe(401);
    expect((await h.api('GET', '/api/v1/users/me', { token: await h.issuer.sign({ sub: me.id, exp: Math.floor(Date.now() / 1000) - 120 }) })).status).toBe(401);
  });

  it('creates the profile from auth when the caller comes before UserRegistered is handled; the late event changes nothing', async () => {
    const early = await h.newAccountWithoutProfile();
    const res = await h.api('GET', '/api/v1/users/me', { token: early.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: early.id, username: early.username, email: `${early.username.toLowerCase()}@example.test`, follower_count: 0 });
    const settings = await h.db.selectFrom('settings').selectAll().where('user_id', '=', early.id).executeTakeFirst();
    expect(settings).toBeDefined();

    await h.api('PATCH', '/api/v1/users/me', { token: early.token, body: { display_name: 'Early Bird' } });
    const late = await h.publishAuthEvent({ aggregate: 'user', action: 'registered', type: 'UserRegistered', entityId: early.id, data: { user_id: early.id, username: early.username } });
    await eventually(
      async () => (await sql`SELECT 1 FROM users.handled_events WHERE event_id = ${late.id}`.execute(h.db)).rows.length === 1,
      'the late UserRegistered to be handled',
    );
    const after = await h.api('GET', '/api/v1/users/me', { token: early.token });
    expect(after.body).toMatchObject({ id: early.id, username: early.username, display_name: 'Early Bird' });
    expect(await h.db.selectFrom('profiles').select('id').where('username_lower', '=', early.username.toLowerCase()).execute()).toHaveLength(1);
  });

  it('answers 404 for a token of an account auth does not know, and creates nothing', async () => {
    const ghost = newId();
    const res = await h.api('GET', '/api/v1/users/me', { token: await h.tokenFor(ghost) });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    expect(await h.db.selectFrom('profiles').select('id').where('id', '=', ghost).executeTakeFirst()).toBeUndefined();
  });

  it('still answers the profile, without email, while auth is unreachable; a profile that is not there yet is then 503', async () => {
    const me = await h.newUser();
    const early = await h.newAccountWithoutProfile();
    h.auth.down = true;
    try {
      const res = await h.api('GET', '/api/v1/users/me', { token: me.token });
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(me.id);
      expect(res.body).not.toHaveProperty('email');
      const notYet = await h.api('GET', '/api/v1/users/me', { token: early.token });
      expect(notYet.status).toBe(503);
      expect(notYet.body.error.code).toBe('DEPENDENCY_UNAVAILABLE');
    } finally {
      h.auth.down = false;
    }
    const back = await h.api('GET', '/api/v1/users/me', { token: me.token });
    expect(back.body.email).toBe(`${me.username.toLowerCase()}@example.test`);
  });
});

describe('GET /api/v1/users/:id and /by-username/:username', () => {
  it('shows a profile to anyone, with counts, and never an email', async () => {
    const owner = await h.newUser();
    const viewer = await h.newUser();
    const fan1 = await h.newUser();
    const fan2 = await h.newUser();
    await h.insertFollow(fan1.id, owner.id);
    await h.insertFollow(fan2.id, owner.id);
    await h.insertFollow(owner.id, fan1.id);
    await h.db.updateTable('profiles').set({ post_count: 7 }).where('id', '=', owner.id).execute();

    for (const token of [undefined, viewer.token, owner.token]) {
      for (const path of [`/api/v1/users/${owner.id}`, `/api/v1/users/by-username/${owner.username}`]) {
        const res = await h.api('GET', path, token ? { token } : {});
        expect(res.status, path).toBe(200);
        expect(Object.keys(res.body).sort()).toEqual(PROFILE_KEYS);
        expect(res.body).toMatchObject({ id: owner.id, username: owner.username, follower_count: 2, following_count: 1, post_count: 7 });
        expect(JSON.stringify(res.body)).not.toContain('@example.test');
      }
    }
  });

  it('finds a username whatever its case', async () => {
    const owner = await h.newUser(newUsername('MiXeD'));
    for (const name of [owner.username.toLowerCase(), owner.username.toUpperCase()]) {
      const res = await h.api('GET', `/api/v1/users/by-username/${name}`);
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(owner.id);
    }
  });

  it('answers 404 for unknown users and 400 for malformed ids and usernames', async () => {
    expect((await h.api('GET', `/api/v1/users/${newId()}`)).status).toBe(404);
    expect((await h.api('GET', '/api/v1/users/by-username/nobody_by_that_name')).status).toBe(404);
    for (const path of ['/api/v1/users/not-a-uuid', '/api/v1/users/by-username/a', '/api/v1/users/by-username/has.dot']) {
      const res = await h.api('GET', path);
      expect(res.status, path).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('hides a profile from someone it blocks and from someone blocking it (404 both ways), not from others', async () => {
    const blocker = await h.newUser();
    const blocked = await h.newUser();
    const other = await h.newUser();
    await h.insertBlock(blocker.id, blocked.id);
    for (const [viewer, target] of [
      [blocked, blocker],
      [blocker, blocked],
    ] as const) {
      expect((await h.api('GET', `/api/v1/users/${target.id}`, { token: viewer.token })).status).toBe(404);
      expect((await h.api('GET', `/api/v1/users/by-username/${target.username}`, { token: viewer.token })).status).toBe(404);
    }
    expect((await h.api('GET', `/api/v1/users/${blocker.id}`, { token: other.token })).status).toBe(200);
    expect((await h.api('GET', `/api/v1/users/${blocker.id}`)).status).toBe(200);
    expect((await h.api('GET', '/api/v1/users/me', { token: blocked.token })).status).toBe(200);
  });

  it('refuses an invalid token on the optional-auth routes instead of ignoring it', async () => {
    const owner = await h.newUser();
    const res = await h.api('GET', `/api/v1/users/${owner.id}`, { token: 'not-a-token' });
    expect(res.status).toBe(401);
  });
});

describe('PATCH /api/v1/users/me', () => {
  it('changes the fields sent, trims text, and records ProfileUpdated with just the changed fields', async () => {
    const me = await h.newUser();
    const avatar = newId();
    const res = await h.api('PATCH', '/api/v1/users/me', {
      token: me.token,
      headers: { 'x-correlation-id': 'corr-profile-1' },
      body: { display_name: '  Ada Lovelace ', bio: 'Analyst.\nPoet of science.', avatar_media_id: avatar, location: 'London', website: 'https://ada.example.org/about?x=1' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: me.id, display_name: 'Ada Lovelace', bio: 'Analyst.\nPoet of science.', avatar_media_id: avatar, cover_media_id: null, location: 'London', website: 'https://ada.example.org/about?x=1', is_private: false });
    expect(res.body).not.toHaveProperty('email');
    expect((await h.api('GET', `/api/v1/users/${me.id}`)).body).toMatchObject({ display_name: 'Ada Lovelace', location: 'London' });

    const events = await h.outboxEvents('ProfileUpdated', me.id);
    expect(events).toHaveLength(1);
    expect(events[0]!.source).toBe('user');
    expect(events[0]!.correlation_id).toBe('corr-profile-1');
    expect(events[0]!.data).toEqual({
      user_id: me.id,
      changes: { display_name: 'Ada Lovelace', bio: 'Analyst.\nPoet of science.', avatar_media_id: avatar, location: 'London', website: 'https://ada.example.org/about?x=1' },
      updated_at: expect.any(String),
    });

    // Same values again (one only re-spaced): nothing changes, nothing is emitted.
    const same = await h.api('PATCH', '/api/v1/users/me', { token: me.token, body: { display_name: 'Ada Lovelace  ', location: 'London' } });
    expect(same.status).toBe(200);
    expect(await h.outboxEvents('ProfileUpdated', me.id)).toHaveLength(1);

    // null and blank text clear; only what changed is reported.
    const cleared = await h.api('PATCH', '/api/v1/users/me', { token: me.token, body: { bio: null, location: '', website: null, display_name: 'Ada Lovelace' } });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({ bio: null, location: null, website: null, display_name: 'Ada Lovelace', avatar_media_id: avatar });
    const after = await h.outboxEvents('ProfileUpdated', me.id);
    expect(after).toHaveLength(2);
    expect(after[1]!.data.changes).toEqual({ bio: null, location: null, website: null });
  });

  it('counts length in characters, so 64 emoji make a valid display name', async () => {
    const me = await h.newUser();
    const res = await h.api('PATCH', '/api/v1/users/me', { token: me.token, body: { display_name: '😀'.repeat(64), bio: 'é'.repeat(300) } });
    expect(res.status).toBe(200);
    expect(res.body.display_name).toBe('😀'.repeat(64));
    expect((await h.api('PATCH', '/api/v1/users/me', { token: me.token, body: { display_name: '😀'.repeat(65) } })).status).toBe(400);
  });

  it('refuses invalid input with 400 VALIDATION_FAILED naming the field, and changes nothing', async () => {
    const me = await h.newUser();
    const cases: Array<[unknown, string]> = [
      [{ display_name: 'x'.repeat(65) }, '/display_name'],
      [{ display_name: 'two\nlines' }, '/display_name'],
      [{ bio: 'b'.repeat(301) }, '/bio'],
      [{ location: 'l'.repeat(101) }, '/location'],
      [{ website: `https://example.com/${'p'.repeat(181)}` }, '/website'],
      [{ website: 'ftp://example.com' }, '/website'],
      [{ website: 'javascript:alert(1)' }, '/website'],
      [{ website: 'example.com' }, '/website'],
      [{ website: 'https://user:pw@example.com' }, '/website'],
      [{ avatar_media_id: 'not-a-uuid' }, '/avatar_media_id'],
      [{ cover_media_id: 42 }, '/cover_media_id'],
      [{ is_private: 'maybe' }, '/is_private'],
      [{ username: 'renamed' }, '/'],
      [{ email: 'new@example.test' }, '/'],
      [{}, '/'],
    ];
    for (const [body, path] of cases) {
      const res = await h.api('PATCH', '/api/v1/users/me', { token: me.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details.issues[0].path, JSON.stringify(body)).toBe(path);
    }
    expect(await h.outboxEvents('ProfileUpdated', me.id)).toHaveLength(0);
    const unchanged = await h.api('GET', '/api/v1/users/me', { token: me.token });
    expect(unchanged.body).toMatchObject({ display_name: null, bio: null, website: null, avatar_media_id: null, is_private: false, username: me.username });
  });

  it('needs a token', async () => {
    expect((await h.api('PATCH', '/api/v1/users/me', { body: { display_name: 'x' } })).status).toBe(401);
  });
});

describe('private accounts', () => {
  it('shows a private profile (with its counts) to everyone, marked private', async () => {
    const me = await h.newUser();
    const res = await h.api('PATCH', '/api/v1/users/me', { token: me.token, body: { is_private: true } });
    expect(res.status).toBe(200);
    expect(res.body.is_private).toBe(true);
    expect((await h.outboxEvents('ProfileUpdated', me.id))[0]!.data.changes).toEqual({ is_private: true });
    const seen = await h.api('GET', `/api/v1/users/${me.id}`);
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ is_private: true, follower_count: 0 });
  });

  it('keeps existing followers when an account goes private', async () => {
    const me = await h.newUser();
    const fan = await h.newUser();
    await h.insertFollow(fan.id, me.id);
    await h.api('PATCH', '/api/v1/users/me', { token: me.token, body: { is_private: true } });
    expect((await h.api('GET', `/api/v1/users/${me.id}`)).body.follower_count).toBe(1);
    expect(await h.db.selectFrom('follows').selectAll().where('followee_id', '=', me.id).execute()).toHaveLength(1);
  });

  it('accepts every pending follow request when the account goes public, with exact counts and events', async () => {
    const owner = await h.newUser();
    await h.api('PATCH', '/api/v1/users/me', { token: owner.token, body: { is_private: true } });
    const requesters = [await h.newUser(), await h.newUser(), await h.newUser()];
    for (const r of requesters) await h.insertFollowRequest(r.id, owner.id);
    const gone = await h.newUser();
    await h.insertFollowRequest(gone.id, owner.id);
    await h.deleteUser(gone.id);
    const existing = await h.newUser();
    await h.insertFollow(existing.id, owner.id);

    const res = await h.api('PATCH', '/api/v1/users/me', { token: owner.token, body: { is_private: false } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ is_private: false, follower_count: 4 });
    expect(await h.db.selectFrom('follow_requests').selectAll().where('target_id', '=', owner.id).execute()).toHaveLength(0);
    const followers = await h.db.selectFrom('follows').select('follower_id').where('followee_id', '=', owner.id).execute();
    expect(followers.map((f) => f.follower_id).sort()).toEqual([existing.id, ...requesters.map((r) => r.id)].sort());
    for (const r of requesters) {
      expect((await h.api('GET', `/api/v1/users/${r.id}`)).body.following_count).toBe(1);
      const accepted = await h.outboxEvents('FollowRequestAccepted', `${r.id}:${owner.id}`);
      expect(accepted).toHaveLength(1);
      expect(accepted[0]!.data).toMatchObject({ follower_id: r.id, followee_id: owner.id });
      expect(await h.outboxEvents('FollowCreated', `${r.id}:${owner.id}`)).toHaveLength(1);
    }
    expect(await h.outboxEvents('FollowCreated', `${gone.id}:${owner.id}`)).toHaveLength(0);
  });
});
