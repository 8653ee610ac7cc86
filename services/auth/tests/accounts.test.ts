import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@nova/testing';
import { releaseDeleted } from '../src/db/queries/users.js';
import { login, mailLink, newCredentials, outboxEvents, registerUser, startAuth, type AuthHarness } from './support.js';

const LOCKOUT_SECONDS = 2;

let h: AuthHarness;
beforeAll(async () => {
  h = await startAuth({ AUTH_LOCKOUT_SECONDS: String(LOCKOUT_SECONDS) });
});
afterAll(async () => {
  await h?.stop();
});

describe('POST /api/v1/auth/register', () => {
  it('creates the account, returns the user and a working token pair, records UserRegistered and mails a verification link', async () => {
    const creds = newCredentials('reg');
    const res = await h.api('POST', '/api/v1/auth/register', { body: creds, headers: { 'x-correlation-id': 'corr-register-1' } });
    expect(res.status).toBe(201);
    expect(res.body.user).toMatchObject({ email: creds.email, username: creds.username, email_verified: false, role: 'user', two_factor_enabled: false });
    expect(res.body.user.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.tokens).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    expect(res.body.tokens.access_token).toEqual(expect.any(String));
    expect(res.body.tokens.refresh_token).toEqual(expect.any(String));
    expect(JSON.stringify(res.body)).not.toContain(creds.password);

    const me = await h.api('GET', '/api/v1/auth/me', { token: res.body.tokens.access_token });
    expect(me.status).toBe(200);
    expect(me.body).toEqual(res.body.user);

    const row = await h.db.selectFrom('users').selectAll().where('id', '=', res.body.user.id).executeTakeFirstOrThrow();
    // argon2id with m=19456 KiB, t=2, p=1 (the PHC string lists the parameters in its own order).
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$/);
    expect(row.password_hash!.split('$')[3]!.split(',').sort()).toEqual(['m=19456', 'p=1', 't=2']);

    const events = await outboxEvents(h, 'UserRegistered', res.body.user.id);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({ user_id: res.body.user.id, username: creds.username, method: 'password' });
    expect(events[0]!.correlation_id).toBe('corr-register-1');

    const mail = await h.mail.waitFor(creds.email, /confirm your email/i);
    const { url, token } = mailLink(mail);
    expect(url.toString().startsWith(`${h.publicUrl}/verify-email?token=`)).toBe(true);
    const confirmed = await h.api('POST', '/api/v1/auth/email/verify/confirm', { body: { token } });
    expect(confirmed.status).toBe(204);
    expect((await h.api('GET', '/api/v1/auth/me', { token: res.body.tokens.access_token })).body.email_verified).toBe(true);
  });

  it('normalises the email: unique case-insensitively, and any casing logs in', async () => {
    const creds = newCredentials('case');
    const mixed = `Mixed.${creds.email.replace('@example.test', '@Example.TEST')}`;
    const first = await h.api('POST', '/api/v1/auth/register', { body: { ...creds, email: mixed } });
    expect(first.status).toBe(201);
    expect(first.body.user.email).toBe(mixed);
    const row = await h.db.selectFrom('users').select('email_normalized').where('id', '=', first.body.user.id).executeTakeFirstOrThrow();
    expect(row.email_normalized).toBe(mixed.toLowerCase());

    const again = await h.api('POST', '/api/v1/auth/register', { body: { ...newCredentials('case'), email: mixed.toLowerCase() } });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'CONFLICT', details: { field: 'email' } });

    expect((await login(h, mixed.toUpperCase(), creds.password)).status).toBe(200);
  });

  it('enforces the username rules and case-insensitive uniqueness', async () => {
    for (const username of ['ab', 'has space', 'dash-ed', 'dot.ted', 'x'.repeat(33), 'émile_name']) {
      const res = await h.api('POST', '/api/v1/auth/register', { body: { ...newCredentials('u'), username } });
      expect(res.status, username).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    const taken = `Name_${Date.now().toString(36)}`;
    const creds = { ...newCredentials('u'), username: taken };
    const ok = await h.api('POST', '/api/v1/auth/register', { body: creds });
    expect(ok.status).toBe(201);
    expect(ok.body.user.username).toBe(taken);
    const clash = await h.api('POST', '/api/v1/auth/register', { body: { ...newCredentials('u'), username: taken.toLowerCase() } });
    expect(clash.status).toBe(409);
    expect(clash.body.error.details).toEqual({ field: 'username' });
    const byOtherCase = await login(h, taken.toUpperCase(), creds.password);
    expect(byOtherCase.status).toBe(200);
    expect(byOtherCase.body.user.id).toBe(ok.body.user.id);
  });

  it('applies the password policy and says which rules failed', async () => {
    const creds = newCredentials('pol');
    const cases: Array<[string, string]> = [
      ['Short-1', 'at least 10 characters'],
      ['password123', 'not a commonly used password'],
      [`My-${creds.username}-pass`, 'not containing your username'],
      [`${creds.email.split('@')[0]}!Secret9`, 'not containing your email'],
    ];
    for (const [password, rule] of cases) {
      const res = await h.api('POST', '/api/v1/auth/register', { body: { ...creds, password } });
      expect(res.status, password).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details.rules, password).toContain(rule);
    }
    // Nothing was created by the refusals.
    expect(await h.db.selectFrom('users').select('id').where('username_lower', '=', creds.username.toLowerCase()).executeTakeFirst()).toBeUndefined();
  });
});

describe('POST /api/v1/auth/login', () => {
  it('logs in by email and by username (any casing) and opens a session each time', async () => {
    const u = await registerUser(h, 'login');
    const byEmail = await login(h, u.email, u.password);
    expect(byEmail.status).toBe(200);
    expect(byEmail.body.user.id).toBe(u.id);
    const byName = await login(h, u.username.toUpperCase(), u.password);
    expect(byName.status).toBe(200);
    expect(byName.body.tokens.session_id).not.toBe(byEmail.body.tokens.session_id);
    const me = await h.api('GET', '/api/v1/auth/me', { token: byName.body.tokens.access_token });
    expect(me.body.username).toBe(u.username);
  });

  it('answers an unknown account and a wrong password identically', async () => {
    const u = await registerUser(h, 'generic');
    const unknown = await login(h, 'nobody-here@example.test', 'Whatever-Password-1');
    const unknownName = await login(h, 'nobody_here_at_all', 'Whatever-Password-1');
    const wrong = await login(h, u.email, 'Whatever-Password-1');
    for (const res of [unknown, unknownName, wrong]) {
      expect(res.status).toBe(401);
      expect(res.body.tokens).toBeUndefined();
    }
    const strip = (b: any) => ({ ...b.error, request_id: undefined });
    expect(strip(unknown.body)).toEqual(strip(wrong.body));
    expect(strip(unknownName.body)).toEqual(strip(wrong.body));
    expect(strip(wrong.body)).toEqual({ code: 'INVALID_CREDENTIALS', message: 'invalid credentials', request_id: undefined });
  });

  it('locks the account after 5 failures, refuses even the right password while locked, and lets it in once the lock expires', async () => {
    const u = await registerUser(h, 'lock');
    for (let i = 1; i <= 5; i++) {
      const res = await login(h, u.username, `Wrong-Password-${i}`);
      expect(res.status, `attempt ${i}`).toBe(401);
      expect(res.body.error.code).toBe('INVALID_CREDENTIALS');
    }
    const locked = await login(h, u.username, u.password);
    expect(locked.status).toBe(423);
    expect(locked.body.error.code).toBe('ACCOUNT_LOCKED');
    expect(locked.body.tokens).toBeUndefined();
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(locked.headers.get('retry-after'))).toBeLessThanOrEqual(LOCKOUT_SECONDS);
    expect((await login(h, u.email, 'Wrong-Password-6')).status).toBe(423);

    const unlocked = await eventually(async () => {
      const res = await login(h, u.email, u.password);
      return res.status === 200 ? res : undefined;
    }, 'the lock to expire', (LOCKOUT_SECONDS + 3) * 1000, 500);
    expect(unlocked.body.user.id).toBe(u.id);
    const row = await h.db.selectFrom('users').select(['failed_login_count', 'locked_until']).where('id', '=', u.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ failed_login_count: 0, locked_until: null });
  });

  it('is rate limited to 5 attempts a minute per client IP', async () => {
    const ip = '198.51.100.23';
    for (let i = 0; i < 5; i++) expect((await login(h, 'nobody_rl', 'Whatever-Password-1', { ip })).status).toBe(401);
    const limited = await login(h, 'nobody_rl', 'Whatever-Password-1', { ip });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await login(h, 'nobody_rl', 'Whatever-Password-1', { ip: '198.51.100.24' })).status).toBe(401);
  });
});

describe('GET /api/v1/auth/me', () => {
  it('needs a valid access token', async () => {
    const u = await registerUser(h, 'me');
    expect((await h.api('GET', '/api/v1/auth/me')).status).toBe(401);
    expect((await h.api('GET', '/api/v1/auth/me', { token: 'not-a-jwt' })).status).toBe(401);
    // A refresh token is not an access token.
    expect((await h.api('GET', '/api/v1/auth/me', { token: u.refresh })).status).toBe(401);
    const ok = await h.api('GET', '/api/v1/auth/me', { token: u.access });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ id: u.id, username: u.username, email: u.email });
  });
});

describe('DELETE /api/v1/auth/me', () => {
  it('soft-deletes the account, ends every session, emits UserDeleted, and keeps the email and username taken until the retention passes', async () => {
    const u = await registerUser(h, 'del');
    const second = await login(h, u.email, u.password);
    expect(second.status).toBe(200);

    const res = await h.api('DELETE', '/api/v1/auth/me', { token: u.access });
    expect(res.status).toBe(204);

    const row = await h.db.selectFrom('users').selectAll().where('id', '=', u.id).executeTakeFirstOrThrow();
    expect(row.deleted_at).toBeInstanceOf(Date);
    expect(row.deleted_by).toBe(u.id);
    expect(row.released_at).toBeNull();
    const sessions = await h.db.selectFrom('sessions').select(['id', 'revoked_at', 'revoked_reason']).where('user_id', '=', u.id).execute();
    expect(sessions).toHaveLength(2);
    for (const s of sessions) expect(s).toMatchObject({ revoked_at: expect.any(Date), revoked_reason: 'account_deleted' });

    const deleted = await outboxEvents(h, 'UserDeleted', u.id);
    expect(deleted).toHaveLength(1);
    expect(deleted[0]!.data).toEqual({ user_id: u.id, deleted_by: u.id });
    const revoked = (await outboxEvents(h, 'SessionRevoked')).filter((e) => e.data.user_id === u.id);
    expect(revoked.map((e) => e.data.session_id).sort()).toEqual(sessions.map((s) => s.id).sort());

    await eventually(async () => (await h.api('GET', '/api/v1/auth/me', { token: second.body.tokens.access_token })).status === 401, 'the deleted account\'s token to be refused', 2_000);
    expect((await login(h, u.email, u.password)).status).toBe(401);
    expect((await h.api('POST', '/api/v1/auth/refresh', { body: { refresh_token: second.body.tokens.refresh_token } })).status).toBe(401);

    // Taken during the retention...
    const sameEmail = await h.api('POST', '/api/v1/auth/register', { body: { ...newCredentials('del'), email: u.email } });
    expect(sameEmail.status).toBe(409);
    const sameName = await h.api('POST', '/api/v1/auth/register', { body: { ...newCredentials('del'), username: u.username } });
    expect(sameName.status).toBe(409);
    expect(await releaseDeleted(h.db, 30)).toBe(0);

    // ...and free once it has passed (AUTH_DELETED_RETENTION_DAYS=0, by the housekeeping query).
    expect(await releaseDeleted(h.db, 0)).toBeGreaterThanOrEqual(1);
    const reused = await h.api('POST', '/api/v1/auth/register', { body: { email: u.email.toUpperCase(), username: u.username, password: u.password } });
    expect(reused.status).toBe(201);
    expect(reused.body.user.id).not.toBe(u.id);
    const old = await h.db.selectFrom('users').select(['deleted_at', 'released_at']).where('id', '=', u.id).executeTakeFirstOrThrow();
    expect(old.released_at).toBeInstanceOf(Date);
  });

  it('needs authentication', async () => {
    expect((await h.api('DELETE', '/api/v1/auth/me')).status).toBe(401);
  });
});
