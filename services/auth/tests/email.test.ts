import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailLink, outboxEvents, registerUser, startAuth, type AuthHarness } from './support.js';

let h: AuthHarness;
beforeAll(async () => {
  h = await startAuth();
});
afterAll(async () => {
  await h?.stop();
});

const SUBJECT = /confirm your email/i;
const confirm = (token: string, correlationId?: string) =>
  h.api('POST', '/api/v1/auth/email/verify/confirm', { body: { token }, ...(correlationId ? { headers: { 'x-correlation-id': correlationId } } : {}) });
const requestAgain = (access?: string) => h.api('POST', '/api/v1/auth/email/verify/request', access ? { token: access } : {});
const me = (token: string) => h.api('GET', '/api/v1/auth/me', { token });

describe('email verification', () => {
  it('the mail sent at registration carries a link whose token verifies the address, once, and emits UserEmailVerified', async () => {
    const u = await registerUser(h, 'ver');
    const mail = await h.mail.waitFor(u.email, SUBJECT);
    expect(mail.from).toBe('no-reply@nova.test');
    expect(mail.text).toContain(u.username);
    const { url, token } = mailLink(mail);
    expect(`${url.origin}${url.pathname}`).toBe(`${h.publicUrl}/verify-email`);

    expect((await me(u.access)).body.email_verified).toBe(false);
    expect(await outboxEvents(h, 'UserEmailVerified', u.id)).toHaveLength(0);
    const res = await confirm(token, 'corr-verify-1');
    expect(res.status).toBe(204);
    expect((await me(u.access)).body.email_verified).toBe(true);
    const row = await h.db.selectFrom('users').select('email_verified_at').where('id', '=', u.id).executeTakeFirstOrThrow();
    expect(row.email_verified_at).toBeInstanceOf(Date);

    const events = await outboxEvents(h, 'UserEmailVerified', u.id);
    expect(events).toEqual([{ type: 'UserEmailVerified', subject: `user/${u.id}`, data: { user_id: u.id }, correlation_id: 'corr-verify-1' }]);

    const again = await confirm(token);
    expect(again.status).toBe(400);
    expect(again.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'token' } });
    expect(await outboxEvents(h, 'UserEmailVerified', u.id)).toHaveLength(1);

    // Verified: asking for another link is a conflict.
    const more = await requestAgain(u.access);
    expect(more.status).toBe(409);
  });

  it('POST /email/verify/request mails a new link that replaces the previous one', async () => {
    const u = await registerUser(h, 'again');
    const first = mailLink(await h.mail.waitFor(u.email, SUBJECT)).token;
    const res = await requestAgain(u.access);
    expect(res.status).toBe(202);
    const second = mailLink(await h.mail.waitFor(u.email, SUBJECT, 2)).token;
    expect(second).not.toBe(first);
    expect((await confirm(first)).status).toBe(400);
    expect((await confirm(second)).status).toBe(204);
    expect((await me(u.access)).body.email_verified).toBe(true);
  });

  it('refuses expired and made-up tokens', async () => {
    const u = await registerUser(h, 'stale');
    const token = mailLink(await h.mail.waitFor(u.email, SUBJECT)).token;
    await h.db.updateTable('action_tokens').set({ expires_at: new Date(Date.now() - 1000) }).where('user_id', '=', u.id).where('purpose', '=', 'email_verify').execute();
    expect((await confirm(token)).status).toBe(400);
    expect((await me(u.access)).body.email_verified).toBe(false);
    expect((await confirm('y'.repeat(43))).status).toBe(400);
    expect((await confirm('short')).status).toBe(400);
  });

  it('a verification token is no good as a password reset token', async () => {
    const u = await registerUser(h, 'purpose');
    const token = mailLink(await h.mail.waitFor(u.email, SUBJECT)).token;
    const res = await h.api('POST', '/api/v1/auth/password/reset/confirm', { body: { token, new_password: 'Cross-Purpose-Pass-1' } });
    expect(res.status).toBe(400);
    expect((await confirm(token)).status).toBe(204);
  });

  it('requesting a link needs authentication', async () => {
    expect((await requestAgain()).status).toBe(401);
  });
});
