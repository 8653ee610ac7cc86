import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@nova/platform';
import { eventually } from '@nova/testing';
import { mailLink, outboxEvents, registerUser, totpCode, awaitStepMargin } from './support.js';
import { startOAuthHarness, type OAuthHarness } from './fakes/oauth-harness.js';
import type { OidcAccount } from './fakes/oidc-issuer.js';

let h: OAuthHarness;
beforeAll(async () => {
  h = await startOAuthHarness();
});
afterAll(async () => {
  await h?.stop();
});

let n = 0;
/** A person at the Google-like issuer that no other test uses. */
function googleAccount(claims: Partial<OidcAccount> = {}): string {
  n += 1;
  const key = `g${n}-${randomBytes(3).toString('hex')}`;
  h.google.accounts.set(key, { sub: `google-sub-${key}`, email: `${key}@gmail.test`, email_verified: true, name: `Person ${key}`, ...claims });
  return key;
}
function appleAccount(claims: Partial<OidcAccount> = {}): string {
  n += 1;
  const key = `a${n}-${randomBytes(3).toString('hex')}`;
  h.apple.accounts.set(key, { sub: `0012${key}.apple`, email: `${key}@privaterelay.test`, email_verified: 'true', ...claims });
  return key;
}

const me = (token: string) => h.api('GET', '/api/v1/auth/me', { token });
const identities = (token: string) => h.api('GET', '/api/v1/auth/oauth/identities', { token });
const identityRows = (provider: string, subject: string) => h.db.selectFrom('oauth_identities').selectAll().where('provider', '=', provider as 'google').where('provider_subject', '=', subject).execute();
const userCount = async () => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM auth.users`.execute(h.db)).rows[0]!.n);

/** Starts a Google sign-in and walks the browser to the provider's redirect back, without calling our callback yet. */
async function googleUntilCallback(account: string, opts: { token?: string; link?: boolean } = {}) {
  const started = await h.start('google', opts);
  expect(started.status).toBe(200);
  const authUrl = new URL(started.body.authorization_url);
  const state = authUrl.searchParams.get('state')!;
  const cb = await h.browser(account).authorize(authUrl.toString());
  return { cb, state, authUrl };
}

describe('Google (OpenID Connect)', () => {
  it('creates an account for a new identity: verified email, a derived username, working tokens and a UserRegistered event', async () => {
    const account = googleAccount({ name: 'José Müller-Lüdenscheidt' });
    const { cb, authUrl } = await googleUntilCallback(account);
    // The authorization request carries state, nonce and a PKCE S256 challenge, and the redirect URI on AUTH_PUBLIC_URL.
    expect(authUrl.origin).toBe(h.google.issuer);
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl.searchParams.get('nonce')).toBeTruthy();
    expect(authUrl.searchParams.get('redirect_uri')).toBe(`${h.publicUrl}/api/v1/auth/oauth/google/callback`);
    expect(authUrl.searchParams.get('scope')).toBe('openid email profile');

    const res = await h.callback(cb);
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('registered');
    expect(res.body.user).toMatchObject({ email: `${account}@gmail.test`, email_verified: true, username: 'Jose_Muller_Ludenscheidt', role: 'user', two_factor_enabled: false });
    expect(res.body.identity).toMatchObject({ provider: 'google', email: `${account}@gmail.test`, email_verified: true });
    // The code went back with its verifier and our client credentials.
    const tokenRequest = h.google.tokenRequests.at(-1)!;
    expect(tokenRequest.get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(tokenRequest.get('client_id')).toBe(h.google.clientId);

    const who = await me(res.body.tokens.access_token);
    expect(who.status).toBe(200);
    expect(who.body.id).toBe(res.body.user.id);
    const events = await outboxEvents(h, 'UserRegistered', res.body.user.id);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({ user_id: res.body.user.id, method: 'google', email_verified: true });
    const user = await h.db.selectFrom('users').select(['password_hash']).where('id', '=', res.body.user.id).executeTakeFirstOrThrow();
    expect(user.password_hash).toBeNull();
  });

  it('logs the same identity into the same account the second time, with a new session', async () => {
    const account = googleAccount();
    const first = await h.signIn('google', account);
    expect(first.status).toBe(200);
    const second = await h.signIn('google', account);
    expect(second.status).toBe(200);
    expect(second.body.outcome).toBe('signed_in');
    expect(second.body.user.id).toBe(first.body.user.id);
    expect(second.body.tokens.session_id).not.toBe(first.body.tokens.session_id);
    expect((await me(second.body.tokens.access_token)).body.id).toBe(first.body.user.id);
    expect(await identityRows('google', `google-sub-${account}`)).toHaveLength(1);
  });

  it('redirects the browser (302) when the client does not ask for JSON', async () => {
    const res = await h.api('GET', '/api/v1/auth/oauth/google/start');
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(`${h.google.issuer}/auth`);
    expect(location.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('stores the provider tokens encrypted, bound to their identity row', async () => {
    const account = googleAccount();
    const res = await h.signIn('google', account);
    expect(res.status).toBe(200);
    const plaintext = h.google.issuedAccessTokens.at(-1)!;
    const [row] = await identityRows('google', `google-sub-${account}`);
    expect(row!.access_token_enc).toMatch(/^v1\./);
    expect(row!.access_token_enc).not.toContain(plaintext);
    const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM auth.oauth_identities WHERE access_token_enc LIKE ${`%${plaintext}%`} OR refresh_token_enc LIKE ${`%${plaintext}%`}`.execute(h.db);
    expect(rows[0]!.n).toBe('0');
    expect(h.box.open(row!.access_token_enc!, `oauth:${row!.id}:access`)).toBe(plaintext);
    // Sealed for this row only: the same ciphertext does not open as another identity's token.
    expect(() => h.box.open(row!.access_token_enc!, `oauth:${res.body.user.id}:access`)).toThrow();
  });

  it('answers 400 with the provider\'s error when the person cancels at the provider, spending the state', async () => {
    const started = await h.start('google');
    const state = new URL(started.body.authorization_url).searchParams.get('state')!;
    const denied = new URL(`${h.publicUrl}/api/v1/auth/oauth/google/callback`);
    denied.searchParams.set('error', 'access_denied');
    denied.searchParams.set('error_description', 'End-User aborted interaction');
    denied.searchParams.set('state', state);
    denied.searchParams.set('iss', h.google.issuer);
    const res = await h.callback({ method: 'GET', url: denied });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'BAD_REQUEST', details: { provider: 'google', provider_error: 'access_denied' } });
    expect(await h.redis.exists(h.stateKey(state))).toBe(0);
  });

  it('refuses an ID token whose nonce is not the one this sign-in was started with (401), and creates nothing', async () => {
    const account = googleAccount();
    const { cb, state } = await googleUntilCallback(account);
    const key = h.stateKey(state);
    const flow = JSON.parse((await h.redis.get(key))!);
    flow.checks.nonce = 'a-nonce-from-another-sign-in';
    await h.redis.set(key, JSON.stringify(flow), 'KEEPTTL');
    const before = await userCount();
    const res = await h.callback(cb);
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: 'UNAUTHENTICATED', details: { provider: 'google' } });
    expect(await userCount()).toBe(before);
    expect(await identityRows('google', `google-sub-${account}`)).toHaveLength(0);
  });

  it('refuses an ID token issued to another client (wrong audience), even with a valid signature', async () => {
    const account = googleAccount();
    const { cb } = await googleUntilCallback(account);
    h.google.tamperNextIdToken((c) => ({ ...c, aud: 'some-other-client.apps.test' }));
    const res = await h.callback(cb);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHENTICATED');
    expect(await identityRows('google', `google-sub-${account}`)).toHaveLength(0);
  });

  it('refuses an ID token not signed by a key in the provider\'s JWKS', async () => {
    const account = googleAccount();
    const { cb } = await googleUntilCallback(account);
    h.google.tamperNextIdToken((c) => c, { foreignKey: true });
    const res = await h.callback(cb);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHENTICATED');
  });

  it('refuses an expired ID token', async () => {
    const account = googleAccount();
    const { cb } = await googleUntilCallback(account);
    const past = Math.floor(Date.now() / 1000) - 3_600;
    h.google.tamperNextIdToken((c) => ({ ...c, iat: past - 600, exp: past }));
    const res = await h.callback(cb);
    expect(res.status).toBe(401);
  });
});

describe('state', () => {
  it('is single use: the same callback a second time is 400', async () => {
    const account = googleAccount();
    const { cb } = await googleUntilCallback(account);
    expect((await h.callback(cb)).status).toBe(200);
    const again = await h.callback(cb);
    expect(again.status).toBe(400);
    expect(again.body.error).toMatchObject({ code: 'BAD_REQUEST', details: { field: 'state' } });
  });

  it('expires: a state older than 10 minutes is 400, even if Redis still holds it', async () => {
    const account = googleAccount();
    const { cb, state } = await googleUntilCallback(account);
    const key = h.stateKey(state);
    const flow = JSON.parse((await h.redis.get(key))!);
    expect(await h.redis.ttl(key)).toBeGreaterThan(590);
    flow.createdAt -= 11 * 60_000;
    await h.redis.set(key, JSON.stringify(flow), 'KEEPTTL');
    const res = await h.callback(cb);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('BAD_REQUEST');
    expect(await identityRows('google', `google-sub-${account}`)).toHaveLength(0);
  });

  it('expires with its Redis key', async () => {
    const { cb, state } = await googleUntilCallback(googleAccount());
    await h.redis.pexpire(h.stateKey(state), 1);
    await new Promise((r) => setTimeout(r, 20));
    expect((await h.callback(cb)).status).toBe(400);
  });

  it('refuses a tampered state (400) without spending the real one', async () => {
    const account = googleAccount();
    const { cb, state } = await googleUntilCallback(account);
    const tampered = new URL(cb.url);
    tampered.searchParams.set('state', `${state.slice(0, -4)}${state.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`);
    const bad = await h.callback({ ...cb, url: tampered });
    expect(bad.status).toBe(400);
    const missing = new URL(cb.url);
    missing.searchParams.delete('state');
    expect((await h.callback({ ...cb, url: missing })).status).toBe(400);
    expect((await h.callback(cb)).status).toBe(200);
  });

  it('belongs to one provider: a Google state at the Apple callback is 400', async () => {
    const { cb } = await googleUntilCallback(googleAccount());
    const elsewhere = new URL(cb.url.toString().replace('/oauth/google/callback', '/oauth/apple/callback'));
    const res = await h.callback({ method: 'POST', url: new URL(`${elsewhere.origin}${elsewhere.pathname}`), form: elsewhere.searchParams });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toMatchObject({ field: 'state' });
  });
});

describe('linking by email', () => {
  async function verifiedPasswordUser(label: string) {
    const u = await registerUser(h, label);
    const mail = await h.mail.waitFor(u.email, /confirm/i);
    const confirmed = await h.api('POST', '/api/v1/auth/email/verify/confirm', { body: { token: mailLink(mail).token } });
    expect(confirmed.status).toBe(204);
    return u;
  }

  it('links a provider-verified email to the existing account that verified it too, and logs into it', async () => {
    const u = await verifiedPasswordUser('linkme');
    const account = googleAccount({ email: u.email.toUpperCase(), email_verified: true });
    const before = await userCount();
    const res = await h.signIn('google', account);
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('linked_and_signed_in');
    expect(res.body.user.id).toBe(u.id);
    expect(await userCount()).toBe(before);
    expect((await me(res.body.tokens.access_token)).body.id).toBe(u.id);
    const linked = await identities(u.access);
    expect(linked.body.identities.map((i: { provider: string }) => i.provider)).toEqual(['google']);
    // Both ways in keep working.
    const again = await h.signIn('google', account);
    expect(again.body).toMatchObject({ outcome: 'signed_in', user: { id: u.id } });
    expect((await h.api('POST', '/api/v1/auth/login', { body: { identifier: u.email, password: u.password } })).status).toBe(200);
  });

  it('refuses to link when the provider does not vouch for the email: 409, log in and link from settings; nothing is created', async () => {
    const u = await verifiedPasswordUser('unverif');
    const account = googleAccount({ email: u.email, email_verified: false });
    const before = await userCount();
    const res = await h.signIn('google', account);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'CONFLICT', details: { provider: 'google', reason: 'email_not_verified_by_provider', action: 'login_and_link' } });
    expect(res.body.error.message).toMatch(/log in .* link .* settings/i);
    expect(await identityRows('google', `google-sub-${account}`)).toHaveLength(0);
    expect(await userCount()).toBe(before);
    expect((await identities(u.access)).body.identities).toEqual([]);
  });

  it('refuses to link to an account that never verified the address (an account pre-registered with someone else\'s email)', async () => {
    const u = await registerUser(h, 'squat');
    const account = googleAccount({ email: u.email, email_verified: true });
    const res = await h.signIn('google', account);
    expect(res.status).toBe(409);
    expect(res.body.error.details).toMatchObject({ reason: 'account_email_not_verified', action: 'login_and_link' });
    expect(await identityRows('google', `google-sub-${account}`)).toHaveLength(0);
  });

  it('creates an account with an unverified email when no account has it, and mails a verification link', async () => {
    const account = googleAccount({ email_verified: false });
    const res = await h.signIn('google', account);
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('registered');
    expect(res.body.user).toMatchObject({ email: `${account}@gmail.test`, email_verified: false });
    await h.mail.waitFor(`${account}@gmail.test`, /confirm/i);
  });
});

describe('link flow (logged-in user)', () => {
  it('links the provider to the caller, whatever its email, and later logs into that account', async () => {
    const u = await registerUser(h, 'linker');
    const account = googleAccount({ email: `different-${randomBytes(3).toString('hex')}@gmail.test`, email_verified: false });
    const res = await h.signIn('google', account, { token: u.access, link: true });
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('linked');
    expect(res.body.user.id).toBe(u.id);
    expect(res.body.tokens).toBeUndefined();
    const list = await identities(u.access);
    expect(list.body.identities).toHaveLength(1);
    expect(list.body.identities[0]).toMatchObject({ provider: 'google', email_verified: false });
    const login = await h.signIn('google', account);
    expect(login.body).toMatchObject({ outcome: 'signed_in', user: { id: u.id } });
  });

  it('refuses to link an identity that belongs to another account (409)', async () => {
    const account = googleAccount();
    const owner = await h.signIn('google', account);
    expect(owner.status).toBe(200);
    const u = await registerUser(h, 'thief');
    const res = await h.signIn('google', account, { token: u.access, link: true });
    expect(res.status).toBe(409);
    expect(res.body.error.details).toMatchObject({ reason: 'identity_linked_elsewhere' });
    expect((await identities(u.access)).body.identities).toEqual([]);
    expect((await h.signIn('google', account)).body.user.id).toBe(owner.body.user.id);
  });

  it('refuses to link a second account of the same provider (409): one per provider', async () => {
    const u = await registerUser(h, 'twice');
    expect((await h.signIn('google', googleAccount(), { token: u.access, link: true })).body.outcome).toBe('linked');
    const second = googleAccount();
    const res = await h.signIn('google', second, { token: u.access, link: true });
    expect(res.status).toBe(409);
    expect(res.body.error.details).toMatchObject({ reason: 'provider_already_linked' });
    expect(await identityRows('google', `google-sub-${second}`)).toHaveLength(0);
  });

  it('needs an access token to start linking (401)', async () => {
    expect((await h.start('google', { link: true })).status).toBe(401);
  });

  it('refuses to finish a link whose session was logged out meanwhile', async () => {
    const u = await registerUser(h, 'gone');
    const { cb } = await googleUntilCallback(googleAccount(), { token: u.access, link: true });
    expect((await h.api('POST', '/api/v1/auth/logout', { token: u.access })).status).toBe(204);
    const res = await h.callback(cb);
    expect(res.status).toBe(401);
  });
});

describe('unlinking', () => {
  it('refuses to unlink the only way into a password-less account (409), allows it once another provider is linked', async () => {
    const g = await h.signIn('google', googleAccount());
    expect(g.body.outcome).toBe('registered');
    const token = g.body.tokens.access_token;
    const last = await h.api('DELETE', '/api/v1/auth/oauth/identities/google', { token });
    expect(last.status).toBe(409);
    expect(last.body.error.details).toMatchObject({ reason: 'last_login_method' });

    const a = await h.signIn('apple', appleAccount({ email: `other-${randomBytes(3).toString('hex')}@privaterelay.test` }), { token, link: true });
    expect(a.body.outcome).toBe('linked');
    expect((await h.api('DELETE', '/api/v1/auth/oauth/identities/google', { token })).status).toBe(204);
    const list = await identities(token);
    expect(list.body.identities.map((i: { provider: string }) => i.provider)).toEqual(['apple']);
    expect((await h.api('DELETE', '/api/v1/auth/oauth/identities/apple', { token })).status).toBe(409);
    expect((await h.api('DELETE', '/api/v1/auth/oauth/identities/google', { token })).status).toBe(404);
  });

  it('lets an account with a password unlink its provider; the stored tokens are dropped and the identity can sign up afresh', async () => {
    const u = await registerUser(h, 'unlink');
    const account = googleAccount({ email: `u-${randomBytes(3).toString('hex')}@gmail.test` });
    expect((await h.signIn('google', account, { token: u.access, link: true })).status).toBe(200);
    expect((await h.api('DELETE', '/api/v1/auth/oauth/identities/google', { token: u.access })).status).toBe(204);
    const [row] = await identityRows('google', `google-sub-${account}`);
    expect(row).toMatchObject({ deleted_by: u.id, access_token_enc: null, refresh_token_enc: null });
    expect(row!.deleted_at).toBeInstanceOf(Date);
    const fresh = await h.signIn('google', account);
    expect(fresh.body.outcome).toBe('registered');
    expect(fresh.body.user.id).not.toBe(u.id);
  });

  it('needs authentication', async () => {
    expect((await h.api('GET', '/api/v1/auth/oauth/identities')).status).toBe(401);
    expect((await h.api('DELETE', '/api/v1/auth/oauth/identities/google')).status).toBe(401);
  });
});

describe('Sign in with Apple', () => {
  it('answers with a form_post, authenticates with an ES256 client secret, and takes the name from the first authorization', async () => {
    const account = appleAccount();
    const started = await h.start('apple');
    const authUrl = new URL(started.body.authorization_url);
    expect(authUrl.searchParams.get('response_mode')).toBe('form_post');
    expect(authUrl.searchParams.get('scope')).toBe('openid email name');
    const cb = await h.browser(account).authorize(authUrl.toString());
    expect(cb.method).toBe('POST');
    const res = await h.callback(cb, { extraForm: { user: JSON.stringify({ name: { firstName: 'Ada', lastName: 'Lovelace' }, email: 'ignored@example.test' }) } });
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('registered');
    // email_verified arrives as the string "true".
    expect(res.body.user).toMatchObject({ username: 'Ada_Lovelace', email: `${account}@privaterelay.test`, email_verified: true });
    const secret = h.apple.tokenRequests.at(-1)!.get('client_secret')!;
    const [header, payload] = secret.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
    expect(header).toMatchObject({ alg: 'ES256', kid: 'KEY1234567' });
    expect(payload).toMatchObject({ iss: 'TEAM123456', sub: h.apple.clientId, aud: h.apple.issuer });
    expect((await me(res.body.tokens.access_token)).status).toBe(200);
  });

  it('answers 405 to a form post at a provider that redirects', async () => {
    const { cb } = await googleUntilCallback(googleAccount());
    const res = await h.callback({ method: 'POST', url: new URL(`${cb.url.origin}${cb.url.pathname}`), form: cb.url.searchParams });
    expect(res.status).toBe(405);
  });
});

describe('accounts with 2FA and deleted accounts', () => {
  it('asks for the second factor before issuing tokens; the ticket then takes one valid code, once', async () => {
    const account = googleAccount();
    const g = await h.signIn('google', account);
    const userId = g.body.user.id as string;
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    await h.db.updateTable('users').set({ totp_secret_enc: h.box.seal(secret, `totp:${userId}`), totp_enabled_at: new Date() }).where('id', '=', userId).execute();

    const res = await h.signIn('google', account);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('TOTP_REQUIRED');
    const ticket = res.body.error.details.oauth_ticket as string;
    expect(res.body.error.details.expires_in).toBe(300);
    expect(res.body.tokens).toBeUndefined();

    const wrong = await h.api('POST', '/api/v1/auth/oauth/2fa', { body: { ticket, code: '000000' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('INVALID_CREDENTIALS');
    await awaitStepMargin();
    const ok = await h.api('POST', '/api/v1/auth/oauth/2fa', { body: { ticket, code: totpCode(secret) } });
    expect(ok.status).toBe(200);
    expect(ok.body.user.id).toBe(userId);
    expect((await me(ok.body.tokens.access_token)).status).toBe(200);
    const reused = await h.api('POST', '/api/v1/auth/oauth/2fa', { body: { ticket, code: totpCode(secret, 1) } });
    expect(reused.status).toBe(401);
    expect(reused.body.error.code).toBe('UNAUTHENTICATED');
  });

  it('refuses to sign into a deleted account', async () => {
    const account = googleAccount();
    const g = await h.signIn('google', account);
    expect((await h.api('DELETE', '/api/v1/auth/me', { token: g.body.tokens.access_token })).status).toBe(204);
    const res = await h.signIn('google', account);
    expect(res.status).toBe(403);
    expect(res.body.error.details).toMatchObject({ reason: 'account_deleted' });
    await eventually(async () => (await me(g.body.tokens.access_token)).status === 401, 'the deleted account\'s token to be refused', 2_000);
  });
});
