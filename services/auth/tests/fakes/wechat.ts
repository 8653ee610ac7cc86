import { randomBytes } from 'node:crypto';
import { header, json, listen, redirect } from './http-util.js';

export interface WeChatUser {
  openid: string;
  unionid?: string;
  nickname: string;
}

/**
 * WeChat website login as documented: `/connect/qrconnect` (strict parameter order, `#wechat_redirect`),
 * `GET /sns/oauth2/access_token` and `GET /sns/userinfo`, whose errors are `{"errcode","errmsg"}` with
 * HTTP 200 and whose JSON comes as text/plain. `failNextExchange` makes the next exchange answer an errcode.
 */
export async function startFakeWeChat(app: { appId: string; appSecret: string }) {
  const users = new Map<string, WeChatUser>();
  const codes = new Map<string, { openid: string; used: boolean }>();
  const tokens = new Map<string, string>();
  const issuedAccessTokens: string[] = [];
  let failNext: { errcode: number; errmsg: string } | undefined;
  const text = 'text/plain';
  const http = await listen((req, res, url) => {
    const q = url.searchParams;
    if (req.method === 'GET' && url.pathname === '/connect/qrconnect') {
      const keys = [...q.keys()];
      if (keys.join(',') !== 'appid,redirect_uri,response_type,scope,state') return json(res, 400, { error: `parameters out of order: ${keys.join(',')}` });
      if (q.get('appid') !== app.appId || q.get('response_type') !== 'code' || q.get('scope') !== 'snsapi_login') return json(res, 400, { error: 'bad qrconnect request' });
      const user = users.get(header(req, 'x-test-account') ?? '');
      if (!user) return json(res, 400, { error: 'no such test account' });
      const target = new URL(q.get('redirect_uri')!);
      const code = randomBytes(16).toString('hex');
      codes.set(code, { openid: user.openid, used: false });
      target.searchParams.set('code', code);
      target.searchParams.set('state', q.get('state') ?? '');
      return redirect(res, target.toString());
    }
    if (req.method === 'GET' && url.pathname === '/sns/oauth2/access_token') {
      if (failNext) {
        const err = failNext;
        failNext = undefined;
        return json(res, 200, err, text);
      }
      if (q.get('appid') !== app.appId || q.get('secret') !== app.appSecret) return json(res, 200, { errcode: 40125, errmsg: 'invalid appsecret' }, text);
      if (q.get('grant_type') !== 'authorization_code') return json(res, 200, { errcode: 40002, errmsg: 'invalid grant_type' }, text);
      const issued = codes.get(q.get('code') ?? '');
      if (!issued) return json(res, 200, { errcode: 40029, errmsg: 'invalid code' }, text);
      if (issued.used) return json(res, 200, { errcode: 40163, errmsg: 'code been used' }, text);
      issued.used = true;
      const user = [...users.values()].find((u) => u.openid === issued.openid)!;
      const token = `wx_${randomBytes(24).toString('hex')}`;
      tokens.set(token, user.openid);
      issuedAccessTokens.push(token);
      return json(res, 200, { access_token: token, expires_in: 7200, refresh_token: `wxr_${randomBytes(24).toString('hex')}`, openid: user.openid, scope: 'snsapi_login', ...(user.unionid ? { unionid: user.unionid } : {}) }, text);
    }
    if (req.method === 'GET' && url.pathname === '/sns/userinfo') {
      const openid = tokens.get(q.get('access_token') ?? '');
      if (!openid || openid !== q.get('openid')) return json(res, 200, { errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' }, text);
      const user = [...users.values()].find((u) => u.openid === openid)!;
      return json(res, 200, { openid, nickname: user.nickname, sex: 0, province: '', city: '', country: '', headimgurl: '', privilege: [], ...(user.unionid ? { unionid: user.unionid } : {}) }, text);
    }
    return json(res, 404, { errcode: 404, errmsg: 'not found' }, text);
  });
  return {
    origin: http.origin,
    env: { WECHAT_APP_ID: app.appId, WECHAT_APP_SECRET: app.appSecret, WECHAT_AUTH_URL: `${http.origin}/connect/qrconnect`, WECHAT_API_URL: http.origin },
    users,
    issuedAccessTokens,
    failNextExchange(errcode: number, errmsg: string) {
      failNext = { errcode, errmsg };
    },
    close: http.close,
  };
}
