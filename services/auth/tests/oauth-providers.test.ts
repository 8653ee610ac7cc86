import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@nova/platform';
import { startOAuthHarness, type OAuthHarness } from './fakes/oauth-harness.js';

/**
 * Facebook and WeChat (hand-written clients) against local servers speaking their documented endpoints;
 * Google left unconfigured (disabled), Apple pointed at an issuer that does not answer.
 */
let h: OAuthHarness;
beforeAll(async () => {
  h = await startOAuthHarness({ GOOGLE_CLIENT_ID: '', GOOGLE_CLIENT_SECRET: '', APPLE_ISSUER: 'http://127.0.0.1:9', OAUTH_HTTP_TIMEOUT_MS: '2000' });
});
afterAll(async () => {
  await h?.stop();
});

let n = 0;
const tag = () => `${++n}${randomBytes(3).toString('hex')}`;
const me = (token: string) => h.api('GET', '/api/v1/auth/me', { token });
const userCount = async () => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM auth.users`.execute(h.db)).rows[0]!.n);

describe('Facebook', () => {
  it('creates an account from Graph /me, counting a returned email as verified, and logs the same person in again', async () => {
    const t = tag();
    h.facebook.users.set(`fb${t}`, { id: `10${t}`, name: 'Grace Hopper', email: `grace${t}@fb.test` });
    const started = await h.start('facebook');
    const authUrl = new URL(started.body.authorization_url);
    expect(`${authUrl.origin}${authUrl.pathname}`).toBe(h.facebook.env.FACEBOOK_AUTH_URL);
    expect(authUrl.searchParams.get('scope')).toBe('public_profile,email');
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    const cb = await h.browser(`fb${t}`).authorize(authUrl.toString());
    const res = await h.callback(cb);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ outcome: 'registered', user: { username: 'Grace_Hopper', email: `grace${t}@fb.test`, email_verified: true }, identity: { provider: 'facebook' } });
    expect((await me(res.body.tokens.access_token)).status).toBe(200);

    const again = await h.signIn('facebook', `fb${t}`);
    expect(again.body).toMatchObject({ outcome: 'signed_in', user: { id: res.body.user.id } });
    const row = await h.db.selectFrom('oauth_identities').selectAll().where('provider', '=', 'facebook').where('provider_subject', '=', `10${t}`).executeTakeFirstOrThrow();
    expect(h.box.open(row.access_token_enc!, `oauth:${row.id}:access`)).toBe(h.facebook.issuedAccessTokens.at(-1));
  });

  it('creates an account without an email when the person did not share one', async () => {
    const t = tag();
    h.facebook.users.set(`fb${t}`, { id: `20${t}`, name: 'No Mail' });
    const res = await h.signIn('facebook', `fb${t}`);
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ email: null, email_verified: false, username: 'No_Mail' });
  });

  it('gives a unique username when the derived one is taken', async () => {
    const t = tag();
    h.facebook.users.set(`a${t}`, { id: `30${t}`, name: 'Same Name' });
    h.facebook.users.set(`b${t}`, { id: `31${t}`, name: 'Same Name' });
    const first = await h.signIn('facebook', `a${t}`);
    const second = await h.signIn('facebook', `b${t}`);
    expect(first.body.user.username).toBe('Same_Name');
    expect(second.body.user.username).toMatch(/^Same_Name_\d{4}$/);
  });

  it('answers 400 with the provider\'s error when the person cancels at the dialog', async () => {
    const t = tag();
    h.facebook.users.set(`fb${t}`, { id: `40${t}`, name: 'Cancel' });
    const started = await h.start('facebook');
    const cb = await h.browser(`fb${t}`, { 'x-test-deny': '1' }).authorize(started.body.authorization_url);
    const res = await h.callback(cb);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'BAD_REQUEST', details: { provider: 'facebook', provider_error: 'access_denied' } });
  });
});

describe('WeChat', () => {
  it('builds the documented authorize URL and signs up a person without an email under their unionid', async () => {
    const t = tag();
    h.wechat.users.set(`wx${t}`, { openid: `o_${t}`, unionid: `u_${t}`, nickname: '微信用户' });
    const started = await h.start('wechat');
    const authUrl: string = started.body.authorization_url;
    expect(authUrl).toMatch(new RegExp(`^${h.wechat.env.WECHAT_AUTH_URL}\\?appid=wx0123456789abcdef&redirect_uri=[^&]+&response_type=code&scope=snsapi_login&state=[A-Za-z0-9_-]{43}#wechat_redirect$`));
    const res = await h.callback(await h.browser(`wx${t}`).authorize(authUrl));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ outcome: 'registered', user: { email: null, email_verified: false }, identity: { provider: 'wechat', email: null } });
    expect(res.body.user.username).toMatch(/^wechat_user(_\d+)?$/);
    const rows = await h.db.selectFrom('oauth_identities').select(['provider_subject', 'refresh_token_enc']).where('user_id', '=', res.body.user.id).execute();
    expect(rows).toEqual([{ provider_subject: `u_${t}`, refresh_token_enc: expect.stringMatching(/^v1\./) }]);
    expect((await h.signIn('wechat', `wx${t}`)).body).toMatchObject({ outcome: 'signed_in', user: { id: res.body.user.id } });
  });

  it('finds an identity stored under the openid once WeChat starts sending a unionid, and moves it to the unionid', async () => {
    const t = tag();
    h.wechat.users.set(`wx${t}`, { openid: `o_${t}`, nickname: 'Lin' });
    const first = await h.signIn('wechat', `wx${t}`);
    expect(first.body.outcome).toBe('registered');
    h.wechat.users.set(`wx${t}`, { openid: `o_${t}`, unionid: `u_${t}`, nickname: 'Lin' });
    const second = await h.signIn('wechat', `wx${t}`);
    expect(second.body).toMatchObject({ outcome: 'signed_in', user: { id: first.body.user.id } });
    const rows = await h.db.selectFrom('oauth_identities').select('provider_subject').where('user_id', '=', first.body.user.id).execute();
    expect(rows).toEqual([{ provider_subject: `u_${t}` }]);
  });

  it('maps an errcode in a 200 answer: a bad code is 400 with the errcode, anything else 503; nothing is created', async () => {
    const t = tag();
    h.wechat.users.set(`wx${t}`, { openid: `o_${t}`, nickname: 'Err' });
    const before = await userCount();

    h.wechat.failNextExchange(40029, 'invalid code, rid: 1234');
    const bad = await h.signIn('wechat', `wx${t}`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'BAD_REQUEST', details: { provider: 'wechat', provider_error: 40029 } });

    h.wechat.failNextExchange(-1, 'system error');
    const busy = await h.signIn('wechat', `wx${t}`);
    expect(busy.status).toBe(503);
    expect(busy.body.error).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE', message: 'a dependency is temporarily unavailable' });
    expect(JSON.stringify(busy.body)).not.toContain('system error');
    expect(await userCount()).toBe(before);
  });
});

describe('configuration', () => {
  it('answers 404 "provider not configured" for a provider without credentials, at start and at the callback', async () => {
    const start = await h.start('google');
    expect(start.status).toBe(404);
    expect(start.body.error).toMatchObject({ code: 'NOT_FOUND', message: 'provider not configured' });
    const redirect = await h.api('GET', '/api/v1/auth/oauth/google/start');
    expect(redirect.status).toBe(404);
    expect(redirect.headers.get('location')).toBeNull();
    expect((await h.api('GET', '/api/v1/auth/oauth/google/callback?code=x&state=y')).status).toBe(404);
  });

  it('answers 404 for a provider it does not know', async () => {
    const res = await h.start('github');
    expect(res.status).toBe(404);
    expect(res.body.error.message).toBe('unknown OAuth provider');
  });

  it('answers 503 when the provider cannot be reached', async () => {
    const res = await h.start('apple');
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('DEPENDENCY_UNAVAILABLE');
  });
});
