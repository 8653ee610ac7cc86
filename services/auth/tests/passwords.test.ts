import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@nova/platform';
import { eventually } from '@nova/testing';
import { insertUser } from '../src/db/queries/users.js';
import { login, mailLink, newCredentials, outboxEvents, registerUser, startAuth, type AuthHarness } from './support.js';

let h: AuthHarness;
beforeAll(async () => {
  h = await startAuth();
});
afterAll(async () => {
  await h?.stop();
});

const RESET_SUBJECT = /reset your nova password/i;
const CHANGED_SUBJECT = /password was changed/i;
const me = (token: string) => h.api('GET', '/api/v1/auth/me', { token });
const refresh = (token: string) => h.api('POST', '/api/v1/auth/refresh', { body: { refresh_token: token } });
const refused = (token: string, what: string) => eventually(async () => (await me(token)).status === 401, what, 2_000);
const change = (token: string, old_password: string, new_password: string) => h.api('POST', '/api/v1/auth/password/change', { token, body: { old_password, new_password } });
const requestReset = (email: string, ip?: string) => h.api('POST', '/api/v1/auth/password/reset/request', { body: { email }, ...(ip ? { ip } : {}) });
const confirmReset = (token: string, new_password: string) => h.api('POST', '/api/v1/auth/password/reset/confirm', { body: { token, new_password } });

/** Requests a reset and returns the token from the n-th reset mail to the address. */
async function resetToken(email: string, n = 1): Promise<string> {
  expect((await requestReset(email)).status).toBe(202);
  return mailLink(await h.mail.waitFor(email, RESET_SUBJECT, n)).token;
}

describe('POST /api/v1/auth/password/change', () => {
  it('changes the password, ends every other session but keeps this one, and emits PasswordChanged', async () => {
    const u = await registerUser(h, 'chg');
    const b = await login(h, u.email, u.password);
    const c = await login(h, u.email, u.password);
    const next = 'Brand-New-Secret-42';

    const res = await h.api('POST', '/api/v1/auth/password/change', { token: u.access, body: { old_password: u.password, new_password: next }, headers: { 'x-correlation-id': 'corr-change-1' } });
    expect(res.status).toBe(204);

    for (const t of [b.body.tokens, c.body.tokens]) {
      await refused(t.access_token, 'the other sessions to be refused');
      expect((await refresh(t.refresh_token)).status).toBe(401);
    }
    expect((await me(u.access)).status).toBe(200);
    const kept = await refresh(u.refresh);
    expect(kept.status).toBe(200);
    expect(kept.body.session_id).toBe(u.sessionId);

    expect((await login(h, u.email, u.password)).status).toBe(401);
    expect((await login(h, u.email, next)).status).toBe(200);

    const events = await outboxEvents(h, 'PasswordChanged', u.id);
    expect(events).toEqual([{ type: 'PasswordChanged', subject: `user/${u.id}`, data: { user_id: u.id, method: 'change' }, correlation_id: 'corr-change-1' }]);
    const revoked = (await outboxEvents(h, 'SessionRevoked')).filter((e) => e.data.user_id === u.id);
    expect(revoked.map((e) => e.data.session_id).sort()).toEqual([b.body.tokens.session_id, c.body.tokens.session_id].sort());
    expect(revoked.every((e) => e.data.reason === 'password_changed')).toBe(true);

    const notice = await h.mail.waitFor(u.email, CHANGED_SUBJECT);
    expect(notice.text).toContain(u.username);
  });

  it('refuses a wrong current password (counted towards the lockout), a weak new one, and the same one again', async () => {
    const u = await registerUser(h, 'chgbad');
    const wrong = await change(u.access, 'Not-The-Password-1', 'Brand-New-Secret-42');
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.details).toEqual({ field: 'old_password' });
    expect((await h.db.selectFrom('users').select('failed_login_count').where('id', '=', u.id).executeTakeFirstOrThrow()).failed_login_count).toBe(1);

    const weak = await change(u.access, u.password, 'password123');
    expect(weak.status).toBe(400);
    expect(weak.body.error.details.rules).toContain('not a commonly used password');
    const withName = await change(u.access, u.password, `x-${u.username}-x`);
    expect(withName.body.error.details.rules).toContain('not containing your username');
    const same = await change(u.access, u.password, u.password);
    expect(same.status).toBe(400);
    expect(same.body.error.details).toEqual({ field: 'new_password' });

    expect((await login(h, u.email, u.password)).status).toBe(200);
    expect(await outboxEvents(h, 'PasswordChanged', u.id)).toHaveLength(0);
    expect((await h.api('POST', '/api/v1/auth/password/change', { body: { old_password: u.password, new_password: 'Brand-New-Secret-42' } })).status).toBe(401);
  });

  it('is refused while the account is locked', async () => {
    const u = await registerUser(h, 'chglock');
    for (let i = 0; i < 5; i++) expect((await change(u.access, `Wrong-Password-${i}`, 'Brand-New-Secret-42')).status).toBe(400);
    const locked = await change(u.access, u.password, 'Brand-New-Secret-42');
    expect(locked.status).toBe(423);
    expect(locked.body.error.code).toBe('ACCOUNT_LOCKED');
  });
});

describe('password reset', () => {
  it('answers 202 with the same body whether or not the account exists, and mails only a real account', async () => {
    const u = await registerUser(h, 'rq');
    const unknownEmail = `no-such-${newId()}@example.test`;
    const unknown = await requestReset(unknownEmail);
    const known = await requestReset(u.email.toUpperCase());
    expect(unknown.status).toBe(202);
    expect(known.status).toBe(202);
    expect(known.body).toEqual(unknown.body);
    expect(known.body.message).toEqual(expect.any(String));

    const mail = await h.mail.waitFor(u.email, RESET_SUBJECT);
    const { url, token } = mailLink(mail);
    expect(url.toString().startsWith(`${h.publicUrl}/reset-password?token=`)).toBe(true);
    expect(token.length).toBeGreaterThanOrEqual(40);
    expect(mail.text).toMatch(/30 minutes/);
    // Only its hash is stored.
    const stored = await h.db.selectFrom('action_tokens').select(['token_hash', 'purpose', 'expires_at', 'created_at']).where('user_id', '=', u.id).where('purpose', '=', 'password_reset').execute();
    expect(stored).toHaveLength(1);
    expect(stored[0]!.token_hash).not.toBe(token);
    expect(stored[0]!.expires_at.getTime() - stored[0]!.created_at.getTime()).toBeCloseTo(30 * 60_000, -4);

    await new Promise((r) => setTimeout(r, 300));
    expect(h.mail.find(unknownEmail)).toHaveLength(0);
  });

  it('sets the new password with the mailed token, once; ends every session; emits PasswordChanged', async () => {
    const u = await registerUser(h, 'rst');
    const other = await login(h, u.username, u.password);
    const token = await resetToken(u.email);

    // A password the policy refuses leaves the token usable.
    const weak = await confirmReset(token, 'password123');
    expect(weak.status).toBe(400);
    expect(weak.body.error.details.rules).toContain('not a commonly used password');

    const next = 'Reset-Password-Works-7';
    const res = await h.api('POST', '/api/v1/auth/password/reset/confirm', { body: { token, new_password: next }, headers: { 'x-correlation-id': 'corr-reset-1' } });
    expect(res.status).toBe(204);
    for (const t of [{ access: u.access, refresh: u.refresh }, { access: other.body.tokens.access_token, refresh: other.body.tokens.refresh_token }]) {
      await refused(t.access, 'every session to be refused after a reset');
      expect((await refresh(t.refresh)).status).toBe(401);
    }
    expect((await login(h, u.email, u.password)).status).toBe(401);
    expect((await login(h, u.email, next)).status).toBe(200);

    const again = await confirmReset(token, 'Another-Password-Try-8');
    expect(again.status).toBe(400);
    expect(again.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'token' } });
    expect((await login(h, u.email, next)).status).toBe(200);

    const events = await outboxEvents(h, 'PasswordChanged', u.id);
    expect(events).toEqual([{ type: 'PasswordChanged', subject: `user/${u.id}`, data: { user_id: u.id, method: 'reset' }, correlation_id: 'corr-reset-1' }]);
    const reasons = (await outboxEvents(h, 'SessionRevoked')).filter((e) => e.data.user_id === u.id).map((e) => e.data.reason);
    expect(reasons).toEqual(['password_reset', 'password_reset']);
    await h.mail.waitFor(u.email, CHANGED_SUBJECT);
  });

  it('refuses an expired token and a made-up one', async () => {
    const u = await registerUser(h, 'exp');
    const token = await resetToken(u.email);
    // 30 minutes pass.
    await h.db.updateTable('action_tokens').set({ expires_at: new Date(Date.now() - 1000) }).where('user_id', '=', u.id).where('purpose', '=', 'password_reset').execute();
    const res = await confirmReset(token, 'Reset-Password-Works-7');
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual({ field: 'token' });
    expect((await login(h, u.email, u.password)).status).toBe(200);
    expect((await confirmReset('x'.repeat(43), 'Reset-Password-Works-7')).status).toBe(400);
  });

  it('sends at most one mail a minute per account; a newer link replaces the older one', async () => {
    const u = await registerUser(h, 'resend');
    const first = await resetToken(u.email);
    expect((await requestReset(u.email)).status).toBe(202);
    await new Promise((r) => setTimeout(r, 500));
    expect(h.mail.find(u.email, RESET_SUBJECT)).toHaveLength(1);

    // A minute later another request sends a new link, and the first stops working.
    await h.db.updateTable('action_tokens').set({ created_at: new Date(Date.now() - 61_000) }).where('user_id', '=', u.id).where('purpose', '=', 'password_reset').execute();
    const second = await resetToken(u.email, 2);
    expect(second).not.toBe(first);
    expect((await confirmReset(first, 'Reset-Password-Works-7')).status).toBe(400);
    expect((await confirmReset(second, 'Reset-Password-Works-7')).status).toBe(204);
  });

  it('clears a lockout', async () => {
    const u = await registerUser(h, 'unlock');
    for (let i = 0; i < 5; i++) await login(h, u.email, `Wrong-Password-${i}`);
    expect((await login(h, u.email, u.password)).status).toBe(423);
    const token = await resetToken(u.email);
    expect((await confirmReset(token, 'Unlocked-Password-9')).status).toBe(204);
    expect((await login(h, u.email, 'Unlocked-Password-9')).status).toBe(200);
  });

  it('lets an account without a password (created through OAuth) set one', async () => {
    const creds = newCredentials('oauthonly');
    const id = newId();
    expect(await insertUser(h.db, { id, email: creds.email, username: creds.username, password_hash: null, email_verified_at: new Date() })).toEqual({ ok: true });
    expect((await login(h, creds.email, creds.password)).status).toBe(401);

    const token = await resetToken(creds.email);
    expect((await confirmReset(token, creds.password)).status).toBe(204);
    const res = await login(h, creds.username, creds.password);
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(id);
  });

  it('an account without a password cannot use /password/change', async () => {
    const u = await registerUser(h, 'nopw');
    await h.db.updateTable('users').set({ password_hash: null }).where('id', '=', u.id).execute();
    const res = await change(u.access, 'Anything-At-All-1', 'Brand-New-Secret-42');
    expect(res.status).toBe(412);
    expect(res.body.error.code).toBe('PRECONDITION_FAILED');
  });

  it('is rate limited to 5 requests a minute per client IP', async () => {
    const ip = '192.0.2.77';
    for (let i = 0; i < 5; i++) expect((await requestReset(`someone${i}@example.test`, ip)).status).toBe(202);
    const limited = await requestReset('someone5@example.test', ip);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
