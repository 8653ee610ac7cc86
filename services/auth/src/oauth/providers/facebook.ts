import { createHmac } from 'node:crypto';
import { calculatePKCECodeChallenge, randomPKCECodeVerifier } from 'openid-client';
import type { Logger } from '@nova/platform';
import { providerRefused, providerUnavailable } from '../errors.js';
import { fetchJson, requireCode, stringField, type JsonResponse } from '../http.js';
import type { AuthorizationRequest, FlowChecks, OAuthProviderClient, ProviderProfile } from '../types.js';

export interface FacebookOptions {
  clientId: string;
  clientSecret: string;
  authUrl: string;
  tokenUrl: string;
  graphUrl: string;
  timeoutMs: number;
  logger: Logger;
}

/**
 * Facebook Login, the manual flow: the login dialog with state and PKCE (S256), the code exchanged at
 * `/oauth/access_token`, then `GET /me?fields=id,name,email` on the Graph API with an `appsecret_proof`.
 * Facebook returns `email` only when the person granted it and has confirmed the address with Facebook,
 * so a present email counts as verified; an absent one is simply unknown.
 */
export class FacebookProvider implements OAuthProviderClient {
  readonly name = 'facebook' as const;
  readonly formPost = false;

  constructor(private readonly o: FacebookOptions) {}

  async authorize(state: string, redirectUri: string): Promise<AuthorizationRequest> {
    const codeVerifier = randomPKCECodeVerifier();
    const url = new URL(this.o.authUrl);
    url.searchParams.set('client_id', this.o.clientId);
    url.searchParams.set('redirect_uri', redirectUri);
    url.searchParams.set('state', state);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('scope', 'public_profile,email');
    url.searchParams.set('code_challenge', await calculatePKCECodeChallenge(codeVerifier));
    url.searchParams.set('code_challenge_method', 'S256');
    return { url, checks: { codeVerifier } };
  }

  async complete(params: URLSearchParams, _state: string, checks: FlowChecks, redirectUri: string): Promise<ProviderProfile> {
    const error = params.get('error');
    if (error) throw providerRefused(this.name, `facebook did not authorize the sign-in (${params.get('error_reason') ?? error})`, error);
    const code = requireCode(this.name, params);

    const tokenUrl = new URL(this.o.tokenUrl);
    tokenUrl.searchParams.set('client_id', this.o.clientId);
    tokenUrl.searchParams.set('client_secret', this.o.clientSecret);
    tokenUrl.searchParams.set('redirect_uri', redirectUri);
    tokenUrl.searchParams.set('code', code);
    if (checks.codeVerifier) tokenUrl.searchParams.set('code_verifier', checks.codeVerifier);
    const token = await fetchJson(this.name, tokenUrl, this.o.timeoutMs);
    const accessToken = stringField(token.body, 'access_token');
    if (token.status !== 200 || !accessToken) throw this.graphError(token, 'code exchange', true);

    const me = new URL(`${this.o.graphUrl.replace(/\/+$/, '')}/me`);
    me.searchParams.set('fields', 'id,name,email');
    me.searchParams.set('access_token', accessToken);
    me.searchParams.set('appsecret_proof', createHmac('sha256', this.o.clientSecret).update(accessToken).digest('hex'));
    const profile = await fetchJson(this.name, me, this.o.timeoutMs);
    const id = stringField(profile.body, 'id');
    if (profile.status !== 200 || !id) throw this.graphError(profile, 'profile', false);
    const email = stringField(profile.body, 'email') ?? null;
    return {
      provider: this.name,
      subject: id,
      formerSubjects: [],
      email: email?.includes('@') ? email : null,
      emailVerified: email?.includes('@') ?? false,
      name: stringField(profile.body, 'name') ?? null,
      accessToken,
      refreshToken: null,
    };
  }

  /**
   * Graph errors are `{"error":{"message","type","code","fbtrace_id"}}`. A 4xx OAuthException on the code
   * exchange means the code is bad (expired, used, wrong redirect_uri): the user can retry. Everything
   * else — 5xx, our own credentials refused, a profile call failing — is the dependency's problem.
   */
  private graphError(res: JsonResponse, step: string, codeExchange: boolean): Error {
    const err = (typeof res.body.error === 'object' && res.body.error !== null ? res.body.error : {}) as Record<string, unknown>;
    const type = typeof err.type === 'string' ? err.type : undefined;
    const fbCode = typeof err.code === 'number' ? err.code : undefined;
    this.o.logger.warn({ provider: this.name, step, status: res.status, type, code: fbCode, message: err.message }, 'facebook refused an OAuth request');
    // 101 (unknown app id) and 1 (client secret refused) are our configuration, not the user.
    const badAppCredentials = fbCode === 101 || (fbCode === 1 && type === 'OAuthException');
    if (codeExchange && res.status >= 400 && res.status < 500 && type === 'OAuthException' && !badAppCredentials) {
      return providerRefused(this.name, 'the facebook authorization code is invalid, expired or already used', fbCode ?? type);
    }
    return providerUnavailable(this.name, new Error(`facebook ${step} failed with HTTP ${res.status}${fbCode === undefined ? '' : ` code ${fbCode}`}`));
  }
}
