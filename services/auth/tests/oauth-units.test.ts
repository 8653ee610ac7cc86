import { generateKeyPairSync } from 'node:crypto';
import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { createLogger, StartupError, type PlatformConfig } from '@nova/platform';
import type { AuthConfig } from '../src/context.js';
import { AppleClientSecret, appleNameFromCallback } from '../src/oauth/providers/apple.js';
import { createOAuthProviders } from '../src/oauth/registry.js';
import { usernameBase, usernameCandidate } from '../src/oauth/username.js';

const logger = createLogger({ level: 'silent' });
const defaults = {
  OAUTH_STATE_TTL_SECONDS: 600,
  OAUTH_HTTP_TIMEOUT_MS: 10_000,
  GOOGLE_ISSUER: 'https://accounts.google.com',
  APPLE_ISSUER: 'https://appleid.apple.com',
  FACEBOOK_AUTH_URL: 'https://www.facebook.com/v19.0/dialog/oauth',
  FACEBOOK_TOKEN_URL: 'https://graph.facebook.com/v19.0/oauth/access_token',
  FACEBOOK_GRAPH_URL: 'https://graph.facebook.com/v19.0',
  WECHAT_AUTH_URL: 'https://open.weixin.qq.com/connect/qrconnect',
  WECHAT_API_URL: 'https://api.weixin.qq.com',
};
const build = (config: Record<string, unknown>, appEnv = 'production') =>
  createOAuthProviders({ config: { ...defaults, ...config } as unknown as AuthConfig, platform: { APP_ENV: appEnv } as PlatformConfig, logger });
const applePem = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('OAuth configuration', () => {
  it('enables exactly the providers whose credentials are set', () => {
    const p = build({ GOOGLE_CLIENT_ID: 'id', GOOGLE_CLIENT_SECRET: 's', WECHAT_APP_ID: 'wx', WECHAT_APP_SECRET: 's' });
    expect(p.enabled().sort()).toEqual(['google', 'wechat']);
    expect(() => p.get('facebook')).toThrow('provider not configured');
    expect(() => p.get('myspace')).toThrow('unknown OAuth provider');
    expect(build({}).enabled()).toEqual([]);
  });

  it('refuses to start on half a configuration, naming what is missing', () => {
    expect(() => build({ GOOGLE_CLIENT_ID: 'id' })).toThrow(StartupError);
    expect(() => build({ GOOGLE_CLIENT_ID: 'id' })).toThrow(/GOOGLE_CLIENT_SECRET/);
    expect(() => build({ APPLE_CLIENT_ID: 'x', APPLE_TEAM_ID: 't' })).toThrow(/APPLE_KEY_ID, APPLE_PRIVATE_KEY/);
    expect(() => build({ FACEBOOK_CLIENT_SECRET: 's' })).toThrow(/FACEBOOK_CLIENT_ID/);
  });

  it('checks the Apple key at start-up: a P-256 PKCS#8 PEM, newlines possibly escaped', () => {
    const apple = { APPLE_CLIENT_ID: 'x', APPLE_TEAM_ID: 't', APPLE_KEY_ID: 'k' };
    expect(build({ ...apple, APPLE_PRIVATE_KEY: applePem().replace(/\n/g, '\\n') }).enabled()).toEqual(['apple']);
    expect(() => build({ ...apple, APPLE_PRIVATE_KEY: 'not a key' })).toThrow(/APPLE_PRIVATE_KEY is not a readable PEM/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => build({ ...apple, APPLE_PRIVATE_KEY: rsa })).toThrow(/P-256/);
  });

  it('allows plain-http provider URLs only in development and test', () => {
    const google = { GOOGLE_CLIENT_ID: 'id', GOOGLE_CLIENT_SECRET: 's', GOOGLE_ISSUER: 'http://127.0.0.1:9999' };
    expect(() => build(google, 'production')).toThrow(/GOOGLE_ISSUER must be an https URL when APP_ENV=production/);
    expect(build(google, 'test').enabled()).toEqual(['google']);
  });
});

describe('Apple client secret', () => {
  it('is an ES256 JWT from the team to Apple about the Services ID, reused until shortly before it expires', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const secret = new AppleClientSecret({ issuer: 'https://appleid.apple.com/', clientId: 'com.example.web', teamId: 'TEAM', keyId: 'KID', privateKey });
    const now = Date.now();
    const jwt = await secret.get(now);
    const { payload, protectedHeader } = await jwtVerify(jwt, publicKey, { algorithms: ['ES256'], issuer: 'TEAM', subject: 'com.example.web', audience: 'https://appleid.apple.com' });
    expect(protectedHeader.kid).toBe('KID');
    expect(payload.exp! - payload.iat!).toBe(3_600);
    expect(await secret.get(now + 49 * 60_000)).toBe(jwt);
    expect(await secret.get(now + 51 * 60_000)).not.toBe(jwt);
  });

  it('reads the name from the first authorization\'s `user` field, and nothing from garbage', () => {
    expect(appleNameFromCallback(new URLSearchParams({ user: '{"name":{"firstName":"Tim","lastName":"Apple"}}' }))).toBe('Tim Apple');
    expect(appleNameFromCallback(new URLSearchParams({ user: '{not json' }))).toBeNull();
    expect(appleNameFromCallback(new URLSearchParams())).toBeNull();
  });
});

describe('usernames for new OAuth accounts', () => {
  it('folds names to [A-Za-z0-9_], falls back to the email, then to the provider', () => {
    expect(usernameBase('Zoë Saldaña', null, 'google')).toBe('Zoe_Saldana');
    expect(usernameBase('  ', 'first.last+tag@example.com', 'google')).toBe('first_last_tag');
    expect(usernameBase('李雷', null, 'wechat')).toBe('wechat_user');
    expect(usernameBase('Al', 'al@x.test', 'facebook')).toBe('facebook_user');
    expect(usernameBase('A'.repeat(80), null, 'google')).toHaveLength(27);
  });

  it('keeps every candidate within 3-32 characters of the allowed alphabet', () => {
    for (const base of ['abc', 'x'.repeat(27), 'wechat_user']) {
      for (let attempt = 0; attempt < 12; attempt++) expect(usernameCandidate(base, attempt)).toMatch(/^[A-Za-z0-9_]{3,32}$/);
    }
    expect(usernameCandidate('abc', 0)).toBe('abc');
  });
});
