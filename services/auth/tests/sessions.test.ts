import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@nova/testing';
import { login, outboxEvents, registerUser, startAuth, type AuthHarness } from './support.js';

const GRACE_SECONDS = 2;

let h: AuthHarness;
beforeAll(async () => {
  h = await startAuth({ AUTH_REFRESH_GRACE_SECONDS: String(GRACE_SECONDS) });
});
afterAll(async () => {
  await h?.stop();
});

const refresh = (token: string) => h.api('POST', '/api/v1/auth/refresh', { body: { refresh_token: token } });
const me = (token: string) => h.api('GET', '/api/v1/auth/me', { token });
/** Revocation reaches the verifier through Redis within a second. */
const refused = (token: string, what: string) => eventually(async () => (await me(token)).status === 401, what, 2_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('POST /api/v1/auth/refresh', () => {
  it('rotates: each refresh returns a new pair for the same session, and both new tokens work', async () => {
    const u = await registerUser(h, 'rot');
    const first = await refresh(u.refresh);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ token_type: 'Bearer', session_id: u.sessionId });
    expect(first.body.refresh_token).not.toBe(u.refresh);
    expect(first.body.access_token).not.toBe(u.access);
    expect((await me(first.body.access_token)).status).toBe(200);
    const second = await refresh(first.body.refresh_token);
    expect(second.status).toBe(200);
    expect(second.body.session_id).toBe(u.sessionId);
    const rows = await h.db.selectFrom('refresh_tokens').select(['id', 'parent_id', 'rotated_at']).where('session_id', '=', u.sessionId).orderBy('issued_at').execute();
    expect(rows).toHaveLength(3);
    expect(rows[1]!.parent_id).toBe(rows[0]!.id);
    expect(rows[2]!.parent_id).toBe(rows[1]!.id);
    expect(rows.map((r) => r.rotated_at === null)).toEqual([false, false, true]);
  });

  it('treats a rotated token presented after the grace window as reuse: 401 TOKEN_REUSED and the whole session dies', async () => {
    const u = await registerUser(h, 'reuse');
    const next = await refresh(u.refresh);
    expect(next.status).toBe(200);
    const newest = await refresh(next.body.refresh_token);
    expect(newest.status).toBe(200);

    await sleep(GRACE_SECONDS * 1000 + 300);
    const reused = await refresh(u.refresh);
    expect(reused.status).toBe(401);
    expect(reused.body.error.code).toBe('TOKEN_REUSED');

    // The thief's copy and the legitimate client's newest token are both dead now.
    const afterward = await refresh(newest.body.refresh_token);
    expect(afterward.status).toBe(401);
    expect(afterward.body.error.code).toBe('UNAUTHENTICATED');
    await refused(newest.body.access_token, 'the reused session\'s access token to be refused');

    const session = await h.db.selectFrom('sessions').select(['revoked_at', 'revoked_reason']).where('id', '=', u.sessionId).executeTakeFirstOrThrow();
    expect(session).toMatchObject({ revoked_at: expect.any(Date), revoked_reason: 'refresh_token_reused' });
    const events = await outboxEvents(h, 'SessionRevoked', u.sessionId);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toEqual({ session_id: u.sessionId, user_id: u.id, reason: 'refresh_token_reused' });
  });

  it('gives a client that retries within the grace window a pair instead of killing the session', async () => {
    const u = await registerUser(h, 'grace');
    const [a, b] = [await refresh(u.refresh), await refresh(u.refresh)];
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(b.body.session_id).toBe(u.sessionId);
    expect((await me(b.body.access_token)).status).toBe(200);
    expect((await refresh(b.body.refresh_token)).status).toBe(200);
    const session = await h.db.selectFrom('sessions').select('revoked_at').where('id', '=', u.sessionId).executeTakeFirstOrThrow();
    expect(session.revoked_at).toBeNull();
  });

  it('refuses garbage, access tokens and tokens of ended sessions', async () => {
    const u = await registerUser(h, 'badref');
    expect((await refresh('garbage.token.here')).status).toBe(401);
    expect((await refresh(u.access)).status).toBe(401);
    expect((await h.api('POST', '/api/v1/auth/refresh', { body: {} })).status).toBe(400);
    await h.api('POST', '/api/v1/auth/logout', { token: u.access });
    const res = await refresh(u.refresh);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHENTICATED');
  });
});

describe('logout', () => {
  it('POST /logout ends only this session, everywhere, and records SessionRevoked', async () => {
    const u = await registerUser(h, 'out');
    const other = await login(h, u.email, u.password);
    const res = await h.api('POST', '/api/v1/auth/logout', { token: u.access, headers: { 'x-correlation-id': 'corr-logout-1' } });
    expect(res.status).toBe(204);
    await refused(u.access, 'the logged-out access token to be refused');
    expect((await refresh(u.refresh)).status).toBe(401);
    expect((await me(other.body.tokens.access_token)).status).toBe(200);
    expect((await refresh(other.body.tokens.refresh_token)).status).toBe(200);
    const events = await outboxEvents(h, 'SessionRevoked', u.sessionId);
    expect(events).toEqual([{ type: 'SessionRevoked', subject: `session/${u.sessionId}`, data: { session_id: u.sessionId, user_id: u.id, reason: 'logout' }, correlation_id: 'corr-logout-1' }]);
  });

  it('POST /logout-all ends every session of the caller and no one else\'s', async () => {
    const u = await registerUser(h, 'outall');
    const stranger = await registerUser(h, 'stranger');
    const b = await login(h, u.username, u.password);
    const c = await login(h, u.username, u.password);
    expect((await h.api('POST', '/api/v1/auth/logout-all', { token: b.body.tokens.access_token })).status).toBe(204);
    for (const access of [u.access, b.body.tokens.access_token, c.body.tokens.access_token]) await refused(access, 'every session of the user to be refused');
    for (const rt of [u.refresh, b.body.tokens.refresh_token, c.body.tokens.refresh_token]) expect((await refresh(rt)).status).toBe(401);
    expect((await me(stranger.access)).status).toBe(200);
    const reasons = (await outboxEvents(h, 'SessionRevoked')).filter((e) => e.data.user_id === u.id).map((e) => e.data.reason);
    expect(reasons).toEqual(['logout_all', 'logout_all', 'logout_all']);
    expect((await h.api('POST', '/api/v1/auth/logout-all')).status).toBe(401);
  });
});

describe('sessions', () => {
  it('GET /sessions lists the live sessions with device, IP, times and which one is the caller\'s', async () => {
    const u = await registerUser(h, 'list');
    const phone = await login(h, u.email, u.password, { ip: '203.0.113.7', headers: { 'x-device-name': 'Pixel 8', 'user-agent': 'NovaAndroid/3.1' } });
    const laptop = await login(h, u.email, u.password, { ip: '2001:db8::42', headers: { 'x-device-name': 'MacBook', 'user-agent': 'NovaWeb/1.0' } });

    const res = await h.api('GET', '/api/v1/auth/sessions', { token: phone.body.tokens.access_token });
    expect(res.status).toBe(200);
    const sessions = res.body.sessions as any[];
    expect(sessions.map((s) => s.id)).toEqual([laptop.body.tokens.session_id, phone.body.tokens.session_id, u.sessionId]);
    expect(sessions[0]).toMatchObject({ device: 'MacBook', user_agent: 'NovaWeb/1.0', ip: '2001:db8::42', current: false });
    expect(sessions[1]).toMatchObject({ device: 'Pixel 8', user_agent: 'NovaAndroid/3.1', ip: '203.0.113.7', current: true });
    expect(sessions[2].current).toBe(false);
    for (const s of sessions) {
      expect(Date.parse(s.created_at)).not.toBeNaN();
      expect(Date.parse(s.last_seen_at)).toBeGreaterThanOrEqual(Date.parse(s.created_at));
    }

    // Refreshing from elsewhere moves "last seen" and the IP; the list follows the caller's current flag.
    await sleep(20);
    const refreshed = await h.api('POST', '/api/v1/auth/refresh', { body: { refresh_token: phone.body.tokens.refresh_token }, ip: '203.0.113.99' });
    expect(refreshed.status).toBe(200);
    const after = (await h.api('GET', '/api/v1/auth/sessions', { token: laptop.body.tokens.access_token })).body.sessions as any[];
    const phoneNow = after.find((s) => s.id === phone.body.tokens.session_id);
    expect(phoneNow).toMatchObject({ ip: '203.0.113.99', current: false });
    expect(Date.parse(phoneNow.last_seen_at)).toBeGreaterThan(Date.parse(sessions[1].last_seen_at));
    expect(after.find((s) => s.current)?.id).toBe(laptop.body.tokens.session_id);
    expect((await h.api('GET', '/api/v1/auth/sessions')).status).toBe(401);
  });

  it('DELETE /sessions/:id ends one of the caller\'s sessions; someone else\'s is 404', async () => {
    const u = await registerUser(h, 'kill');
    const other = await login(h, u.email, u.password);
    const stranger = await registerUser(h, 'victim');

    const res = await h.api('DELETE', `/api/v1/auth/sessions/${other.body.tokens.session_id}`, { token: u.access });
    expect(res.status).toBe(204);
    await refused(other.body.tokens.access_token, 'the deleted session\'s token to be refused');
    expect((await refresh(other.body.tokens.refresh_token)).status).toBe(401);
    expect((await me(u.access)).status).toBe(200);
    const list = (await h.api('GET', '/api/v1/auth/sessions', { token: u.access })).body.sessions as any[];
    expect(list.map((s) => s.id)).toEqual([u.sessionId]);
    const events = await outboxEvents(h, 'SessionRevoked', other.body.tokens.session_id);
    expect(events.map((e) => e.data.reason)).toEqual(['user_revoked']);

    const foreign = await h.api('DELETE', `/api/v1/auth/sessions/${stranger.sessionId}`, { token: u.access });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('NOT_FOUND');
    expect((await me(stranger.access)).status).toBe(200);
    expect((await h.api('DELETE', `/api/v1/auth/sessions/${other.body.tokens.session_id}`, { token: u.access })).status).toBe(404);
    expect((await h.api('DELETE', '/api/v1/auth/sessions/0190c0de-0000-7000-8000-000000000000', { token: u.access })).status).toBe(404);
    expect((await h.api('DELETE', '/api/v1/auth/sessions/not-a-uuid', { token: u.access })).status).toBe(400);
  });
});
