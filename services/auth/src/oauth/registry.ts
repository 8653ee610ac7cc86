import { createPrivateKey, type KeyObject } from 'node:crypto';
import { AppError, StartupError } from '@nova/platform';
import type { AppContext } from '../context.js';
import { appleProvider } from './providers/apple.js';
import { FacebookProvider } from './providers/facebook.js';
import { googleProvider } from './providers/google.js';
import { WeChatProvider } from './providers/wechat.js';
import { isOAuthProviderName, type OAuthProviderClient, type OAuthProviderName } from './types.js';

/** The configured providers. A provider without credentials is absent, and its routes answer 404. */
export class OAuthProviders {
  constructor(private readonly clients: Map<OAuthProviderName, OAuthProviderClient>) {}

  /** The provider named in a URL, or NOT_FOUND (unknown, or known but not configured). */
  get(name: string): OAuthProviderClient {
    if (!isOAuthProviderName(name)) throw new AppError('NOT_FOUND', 'unknown OAuth provider', { details: { provider: name } });
    const client = this.clients.get(name);
    if (!client) throw new AppError('NOT_FOUND', 'provider not configured', { details: { provider: name } });
    return client;
  }

  enabled(): OAuthProviderName[] {
    return [...this.clients.keys()];
  }
}

/**
 * Builds the providers from config, failing the start-up on half a configuration (an id without its
 * secret, an Apple key that is not a P-256 private key) or on a plain-http provider URL outside
 * development and test — a silent fallback would turn a typo into "sign-in with X is broken".
 */
export function createOAuthProviders(ctx: Pick<AppContext, 'config' | 'platform' | 'logger'>): OAuthProviders {
  const c = ctx.config;
  const allowHttp = ctx.platform.APP_ENV === 'development' || ctx.platform.APP_ENV === 'test';
  const problems: string[] = [];
  const timeoutMs = c.OAUTH_HTTP_TIMEOUT_MS;
  const logger = ctx.logger.child({ component: 'oauth' });

  const group = (provider: string, vars: Record<string, string | undefined>): boolean => {
    const missing = Object.entries(vars).filter(([, value]) => !value).map(([name]) => name);
    if (missing.length === Object.keys(vars).length) return false;
    if (missing.length > 0) problems.push(`${provider} sign-in is half configured: set ${missing.join(', ')} too (or unset ${Object.keys(vars).filter((n) => !missing.includes(n)).join(', ')})`);
    return missing.length === 0;
  };
  const secureUrl = (name: string, value: string) => {
    if (!allowHttp && new URL(value).protocol !== 'https:') problems.push(`${name} must be an https URL when APP_ENV=${ctx.platform.APP_ENV}`);
  };

  const clients = new Map<OAuthProviderName, OAuthProviderClient>();
  if (group('Google', { GOOGLE_CLIENT_ID: c.GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET: c.GOOGLE_CLIENT_SECRET })) {
    secureUrl('GOOGLE_ISSUER', c.GOOGLE_ISSUER);
    clients.set('google', googleProvider({ issuer: c.GOOGLE_ISSUER, clientId: c.GOOGLE_CLIENT_ID!, clientSecret: c.GOOGLE_CLIENT_SECRET!, timeoutMs, allowHttp, logger }));
  }
  if (group('Apple', { APPLE_CLIENT_ID: c.APPLE_CLIENT_ID, APPLE_TEAM_ID: c.APPLE_TEAM_ID, APPLE_KEY_ID: c.APPLE_KEY_ID, APPLE_PRIVATE_KEY: c.APPLE_PRIVATE_KEY })) {
    secureUrl('APPLE_ISSUER', c.APPLE_ISSUER);
    const privateKey = applePrivateKey(c.APPLE_PRIVATE_KEY!, problems);
    if (privateKey) {
      clients.set('apple', appleProvider({ issuer: c.APPLE_ISSUER, clientId: c.APPLE_CLIENT_ID!, teamId: c.APPLE_TEAM_ID!, keyId: c.APPLE_KEY_ID!, privateKey, timeoutMs, allowHttp, logger }));
    }
  }
  if (group('Facebook', { FACEBOOK_CLIENT_ID: c.FACEBOOK_CLIENT_ID, FACEBOOK_CLIENT_SECRET: c.FACEBOOK_CLIENT_SECRET })) {
    for (const name of ['FACEBOOK_AUTH_URL', 'FACEBOOK_TOKEN_URL', 'FACEBOOK_GRAPH_URL'] as const) secureUrl(name, c[name]);
    clients.set('facebook', new FacebookProvider({ clientId: c.FACEBOOK_CLIENT_ID!, clientSecret: c.FACEBOOK_CLIENT_SECRET!, authUrl: c.FACEBOOK_AUTH_URL, tokenUrl: c.FACEBOOK_TOKEN_URL, graphUrl: c.FACEBOOK_GRAPH_URL, timeoutMs, logger }));
  }
  if (group('WeChat', { WECHAT_APP_ID: c.WECHAT_APP_ID, WECHAT_APP_SECRET: c.WECHAT_APP_SECRET })) {
    for (const name of ['WECHAT_AUTH_URL', 'WECHAT_API_URL'] as const) secureUrl(name, c[name]);
    clients.set('wechat', new WeChatProvider({ appId: c.WECHAT_APP_ID!, appSecret: c.WECHAT_APP_SECRET!, authUrl: c.WECHAT_AUTH_URL, apiUrl: c.WECHAT_API_URL, timeoutMs, logger }));
  }
  if (problems.length > 0) throw new StartupError(`Invalid OAuth configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  if (clients.size > 0) logger.info({ providers: [...clients.keys()] }, 'OAuth providers enabled');
  return new OAuthProviders(clients);
}

/** The .p8 key Apple hands out (PKCS#8 PEM, P-256). Escaped newlines (`\n` in an env var) are accepted. */
function applePrivateKey(pem: string, problems: string[]): KeyObject | undefined {
  try {
    const key = createPrivateKey(pem.includes('\\n') ? pem.replace(/\\n/g, '\n') : pem);
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      problems.push('APPLE_PRIVATE_KEY must be a P-256 (ES256) private key, as downloaded from Apple (.p8)');
      return undefined;
    }
    return key;
  } catch {
    problems.push('APPLE_PRIVATE_KEY is not a readable PEM private key');
    return undefined;
  }
}
