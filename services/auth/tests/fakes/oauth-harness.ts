import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { importSPKI } from 'jose';
import { Redis } from 'ioredis';
import { createLogger, createMetrics, createServicePool, runServices, SecretBox, type HttpApp, type RunningPlatform, type ServiceModule } from '@nova/platform';
import { createTestEnv, TEST_REDIS_URL, type TestEnv } from '@nova/testing';
import { oauthRoutes } from '../../src/api/http/oauth/index.js';
import { createContext } from '../../src/context.js';
import { tokenHash } from '../../src/crypto/secret-box.js';
import type { AuthDb } from '../../src/db/schema.js';
import { authService } from '../../src/index.js';
import { freshIp, MailCatcher, type ApiResponse, type AuthHarness, type CallOptions } from '../support.js';
import { Browser, type CallbackRequest } from './browser.js';
import { startFakeFacebook } from './facebook.js';
import { startFakeIssuer } from './oidc-issuer.js';
import { startFakeWeChat } from './wechat.js';

export type ProviderName = 'google' | 'apple' | 'facebook' | 'wechat';

const START_ROUTE = { method: 'GET' as const, url: '/api/v1/auth/oauth/:provider/start' };

/**
 * The auth service as shipped, plus the OAuth routes if its route table does not carry them yet (routes.ts
 * registers them; this keeps the suite meaningful either way and never registers them twice).
 */
function authWithOAuth(): ServiceModule<any> {
  return {
    ...authService,
    async create(deps) {
      const instance = await authService.create(deps);
      return {
        ...instance,
        http: async (app: HttpApp) => {
          await instance.http?.(app);
          if (!app.hasRoute(START_ROUTE)) oauthRoutes(app, createContext(deps));
        },
      };
    },
  };
}

export interface OAuthHarness extends AuthHarness {
  google: Awaited<ReturnType<typeof startFakeIssuer>>;
  apple: Awaited<ReturnType<typeof startFakeIssuer>>;
  facebook: Awaited<ReturnType<typeof startFakeFacebook>>;
  wechat: Awaited<ReturnType<typeof startFakeWeChat>>;
  /** Opens sealed values with the service's own key, to check what is stored. */
  box: SecretBox;
  /** A connection to the service's Redis keys (same prefix), to look at or age a pending sign-in. */
  redis: Redis;
  stateKey(state: string): string;
  /** GET /oauth/:provider/start as an API client would (Accept: application/json). */
  start(provider: string, opts?: { token?: string; link?: boolean; ip?: string }): Promise<ApiResponse>;
  /** A browser that "logs in" at the fake providers as `account`. */
  browser(account: string, headers?: Record<string, string>): Browser;
  /** Delivers what the provider sent the browser back with to the running service. */
  callback(cb: CallbackRequest, opts?: { ip?: string; extraForm?: Record<string, string> }): Promise<ApiResponse>;
  /** start → provider → callback in one go; the callback's response. */
  signIn(provider: ProviderName, account: string, opts?: { token?: string; link?: boolean; extraForm?: Record<string, string> }): Promise<ApiResponse>;
}

async function parse(res: Response): Promise<ApiResponse> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text.length > 0 ? JSON.parse(text) : null;
  } catch {
    // Not JSON: keep the text so a failing assertion shows it.
  }
  return { status: res.status, body, headers: res.headers };
}

/**
 * The auth service with all four providers pointed at local fakes: oidc-provider as Google and as Apple
 * (ES256 client secret, form_post), and node:http servers speaking Facebook's and WeChat's endpoints.
 */
export async function startOAuthHarness(overrides: Record<string, string> = {}): Promise<OAuthHarness> {
  const env: TestEnv = await createTestEnv();
  const publicUrl = 'https://nova.test/app';
  const redirect = (p: ProviderName) => `${publicUrl}/api/v1/auth/oauth/${p}/callback`;
  const encryptionKey = randomBytes(32);

  const google = await startFakeIssuer({
    clientId: 'google-client.apps.test',
    clientSecret: `google-secret-${randomBytes(8).toString('hex')}`,
    redirectUri: redirect('google'),
    scopes: ['openid', 'email', 'profile'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  });
  const appleKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const appleTeam = { teamId: 'TEAM123456', keyId: 'KEY1234567' };
  const apple = await startFakeIssuer({
    clientId: 'test.nova.signin',
    clientSecret: `apple-internal-${randomBytes(8).toString('hex')}`,
    redirectUri: redirect('apple'),
    scopes: ['openid', 'email', 'name'],
    claims: { openid: ['sub'], email: ['email', 'email_verified', 'is_private_email'] },
    appleClientSecret: { publicKey: await importSPKI(appleKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'ES256'), ...appleTeam },
  });
  const facebook = await startFakeFacebook({ clientId: '1234567890', clientSecret: `fb-secret-${randomBytes(8).toString('hex')}` });
  const wechat = await startFakeWeChat({ appId: 'wx0123456789abcdef', appSecret: `wx-secret-${randomBytes(8).toString('hex')}` });
  const mail = new MailCatcher();
  await mail.start();
  const closeFakes = () => Promise.all([google.close(), apple.close(), facebook.close(), wechat.close(), mail.stop()]);

  let platform: RunningPlatform;
  try {
    platform = await runServices({
      services: [authWithOAuth()],
      env: env.env({
        AUTH_KEY_SIZE_BITS: '2048',
        AUTH_ENCRYPTION_KEY: encryptionKey.toString('base64'),
        AUTH_PUBLIC_URL: publicUrl,
        SMTP_URL: mail.url,
        MAIL_FROM: 'Nova <no-reply@nova.test>',
        TRUSTED_PROXIES: '127.0.0.1',
        GOOGLE_ISSUER: google.issuer,
        GOOGLE_CLIENT_ID: google.clientId,
        GOOGLE_CLIENT_SECRET: google.clientSecret,
        APPLE_ISSUER: apple.issuer,
        APPLE_CLIENT_ID: apple.clientId,
        APPLE_TEAM_ID: appleTeam.teamId,
        APPLE_KEY_ID: appleTeam.keyId,
        // As an env var would carry the .p8 file: newlines escaped.
        APPLE_PRIVATE_KEY: appleKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().replace(/\n/g, '\\n'),
        ...facebook.env,
        ...wechat.env,
        ...overrides,
      }),
    });
  } catch (err) {
    await closeFakes();
    await env.cleanup();
    throw err;
  }
  const pool = createServicePool<AuthDb>({
    service: 'auth-oauth-test',
    schema: 'auth',
    connectionString: env.databaseUrl,
    max: 2,
    acquireTimeoutMs: 10_000,
    statementTimeoutMs: 0,
    metrics: createMetrics({ defaultMetrics: false }),
    logger: createLogger({ level: 'silent' }),
  });
  const redis = new Redis(TEST_REDIS_URL, { keyPrefix: env.redisKeyPrefix, maxRetriesPerRequest: 1 });
  const base = `http://127.0.0.1:${platform.httpPort}`;

  const api = async <T = any>(method: string, path: string, opts: CallOptions = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { 'x-forwarded-for': opts.ip ?? freshIp(), ...opts.headers };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, redirect: 'manual', ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
    return parse(res) as Promise<ApiResponse<T>>;
  };

  const start: OAuthHarness['start'] = (provider, opts = {}) =>
    api('GET', `/api/v1/auth/oauth/${provider}/start${opts.link ? '?link=true' : ''}`, {
      headers: { accept: 'application/json' },
      ...(opts.token !== undefined ? { token: opts.token } : {}),
      ...(opts.ip !== undefined ? { ip: opts.ip } : {}),
    });

  const callback: OAuthHarness['callback'] = async (cb, opts = {}) => {
    if (!cb.url.toString().startsWith(publicUrl)) throw new Error(`not our callback: ${cb.url.toString()}`);
    const target = `${base}${cb.url.toString().slice(publicUrl.length)}`;
    const headers: Record<string, string> = { 'x-forwarded-for': opts.ip ?? freshIp() };
    if (cb.method === 'GET') return parse(await fetch(target, { headers, redirect: 'manual' }));
    const form = new URLSearchParams(cb.form);
    for (const [k, v] of Object.entries(opts.extraForm ?? {})) form.set(k, v);
    return parse(await fetch(target, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(), redirect: 'manual' }));
  };

  const browser = (account: string, headers: Record<string, string> = {}) => new Browser(publicUrl, { 'x-test-account': account, ...headers });

  return {
    env,
    platform,
    mail,
    db: pool.db,
    publicUrl,
    api,
    google,
    apple,
    facebook,
    wechat,
    box: new SecretBox(encryptionKey),
    redis,
    stateKey: (state) => `auth:oauth:state:${tokenHash(state)}`,
    start,
    browser,
    callback,
    async signIn(provider, account, opts = {}) {
      const started = await start(provider, { ...(opts.token !== undefined ? { token: opts.token } : {}), ...(opts.link ? { link: true } : {}) });
      if (started.status !== 200) return started;
      const cb = await browser(account).authorize(started.body.authorization_url);
      return callback(cb, opts.extraForm ? { extraForm: opts.extraForm } : {});
    },
    async stop() {
      await platform.stop();
      redis.disconnect();
      await pool.close();
      await closeFakes();
      await env.cleanup();
    },
  };
}
