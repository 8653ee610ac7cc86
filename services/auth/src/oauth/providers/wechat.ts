import type { Logger } from '@nova/platform';
import { providerRefused, providerUnavailable } from '../errors.js';
import { fetchJson, requireCode, stringField, type JsonResponse } from '../http.js';
import type { AuthorizationRequest, OAuthProviderClient, ProviderProfile } from '../types.js';

export interface WeChatOptions {
  appId: string;
  appSecret: string;
  authUrl: string;
  apiUrl: string;
  timeoutMs: number;
  logger: Logger;
}

/**
 * errcodes that mean the code itself is unusable — invalid (40029), already used (40163), expired (42003),
 * missing (41008) — so the user should simply try again: 400. Any other errcode (system busy -1, rate
 * limits 45009/45011, our appid/secret refused 40013/40125, ...) is the dependency failing: 503.
 */
const BAD_CODE_ERRCODES = new Set([40029, 40163, 42003, 41008]);

/**
 * WeChat website login (Open Platform, `snsapi_login`). Not OAuth 2 as written: the app id is `appid`,
 * the secret travels in the query, the URL must end in `#wechat_redirect`, errors come back as
 * `{"errcode","errmsg"}` with HTTP 200, and there is neither PKCE nor an email. The person's id is the
 * `unionid` when WeChat sends one (the app is bound to an Open Platform account: the same id across the
 * developer's apps), else the per-app `openid`; an identity first stored under the openid is found again
 * (and moved to the unionid) once a unionid appears.
 */
export class WeChatProvider implements OAuthProviderClient {
  readonly name = 'wechat' as const;
  readonly formPost = false;

  constructor(private readonly o: WeChatOptions) {}

  async authorize(state: string, redirectUri: string): Promise<AuthorizationRequest> {
    // WeChat checks the parameter order, so the query is written by hand.
    const query = [
      `appid=${encodeURIComponent(this.o.appId)}`,
      `redirect_uri=${encodeURIComponent(redirectUri)}`,
      'response_type=code',
      'scope=snsapi_login',
      `state=${encodeURIComponent(state)}`,
    ].join('&');
    return { url: new URL(`${this.o.authUrl}?${query}#wechat_redirect`), checks: {} };
  }

  async complete(params: URLSearchParams): Promise<ProviderProfile> {
    // A person who refuses on the QR page is sent back without a code.
    if (!params.get('code')) throw providerRefused(this.name, 'wechat did not authorize the sign-in', 'authorization_declined');
    const code = requireCode(this.name, params);
    const base = this.o.apiUrl.replace(/\/+$/, '');

    const tokenUrl = new URL(`${base}/sns/oauth2/access_token`);
    tokenUrl.searchParams.set('appid', this.o.appId);
    tokenUrl.searchParams.set('secret', this.o.appSecret);
    tokenUrl.searchParams.set('code', code);
    tokenUrl.searchParams.set('grant_type', 'authorization_code');
    const token = this.checked(await fetchJson(this.name, tokenUrl, this.o.timeoutMs), 'code exchange');
    const accessToken = stringField(token.body, 'access_token');
    const openid = stringField(token.body, 'openid');
    if (!accessToken || !openid) throw providerUnavailable(this.name, new Error('wechat code exchange answered without access_token/openid'));

    const infoUrl = new URL(`${base}/sns/userinfo`);
    infoUrl.searchParams.set('access_token', accessToken);
    infoUrl.searchParams.set('openid', openid);
    const info = this.checked(await fetchJson(this.name, infoUrl, this.o.timeoutMs), 'userinfo');
    if (stringField(info.body, 'openid') !== openid) throw providerUnavailable(this.name, new Error('wechat userinfo answered for another openid'));

    const unionid = stringField(token.body, 'unionid') ?? stringField(info.body, 'unionid');
    return {
      provider: this.name,
      subject: unionid ?? openid,
      formerSubjects: unionid ? [openid] : [],
      email: null,
      emailVerified: false,
      name: stringField(info.body, 'nickname') ?? null,
      accessToken,
      refreshToken: stringField(token.body, 'refresh_token') ?? null,
    };
  }

  private checked(res: JsonResponse, step: string): JsonResponse {
    const errcode = res.body.errcode;
    if (res.status === 200 && (errcode === undefined || errcode === 0)) return res;
    const errmsg = typeof res.body.errmsg === 'string' ? res.body.errmsg : undefined;
    this.o.logger.warn({ provider: this.name, step, status: res.status, errcode, errmsg }, 'wechat refused an OAuth request');
    if (step === 'code exchange' && typeof errcode === 'number' && BAD_CODE_ERRCODES.has(errcode)) {
      throw providerRefused(this.name, 'the wechat authorization code is invalid, expired or already used', errcode);
    }
    throw providerUnavailable(this.name, new Error(`wechat ${step} failed: HTTP ${res.status}, errcode ${String(errcode)} ${errmsg ?? ''}`.trim()));
  }
}
