import { createHash, createHmac, randomBytes } from 'node:crypto';
import { header, json, listen, redirect } from './http-util.js';

export interface FacebookUser {
  id: string;
  name: string;
  /** Facebook only returns a confirmed address, and only when the person granted `email`. */
  email?: string;
}

interface IssuedCode {
  /** The test account (key of `users`). */
  account: string;
  redirectUri: string;
  codeChallenge: string | null;
  used: boolean;
}

function graphError(status: number, message: string, code: number, type = 'OAuthException') {
  return [status, { error: { message, type, code, fbtrace_id: randomBytes(8).toString('base64url') } }] as const;
}

/**
 * Facebook Login's manual flow as documented: the login dialog (`/dialog/oauth`, state and PKCE S256),
 * the code exchange (`GET /oauth/access_token`), and Graph `GET /me?fields=...` checking `appsecret_proof`.
 * The person who "logs in" at the dialog is the one named by the browser's `x-test-account` header.
 */
export async function startFakeFacebook(app: { clientId: string; clientSecret: string }) {
  const users = new Map<string, FacebookUser>();
  const codes = new Map<string, IssuedCode>();
  const tokens = new Map<string, string>();
  const issuedAccessTokens: string[] = [];
  const http = await listen((req, res, url) => {
    const q = url.searchParams;
    if (req.method === 'GET' && url.pathname === '/v19.0/dialog/oauth') {
      const user = users.get(header(req, 'x-test-account') ?? '');
      if (q.get('client_id') !== app.clientId || !q.get('redirect_uri') || !q.get('state') || q.get('response_type') !== 'code') return json(res, 400, { error: 'bad dialog request' });
      if (q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) return json(res, 400, { error: 'PKCE required by this fake' });
      if (!user) return json(res, 400, { error: 'no such test account' });
      const target = new URL(q.get('redirect_uri')!);
      if (header(req, 'x-test-deny') === '1') {
        target.searchParams.set('error', 'access_denied');
        target.searchParams.set('error_code', '200');
        target.searchParams.set('error_reason', 'user_denied');
        target.searchParams.set('error_description', 'Permissions error');
      } else {
        const code = randomBytes(24).toString('base64url');
        codes.set(code, { account: header(req, 'x-test-account')!, redirectUri: q.get('redirect_uri')!, codeChallenge: q.get('code_challenge'), used: false });
        target.searchParams.set('code', code);
      }
      target.searchParams.set('state', q.get('state')!);
      target.hash = '_=_';
      return redirect(res, target.toString());
    }
    if (req.method === 'GET' && url.pathname === '/v19.0/oauth/access_token') {
      if (q.get('client_id') !== app.clientId || q.get('client_secret') !== app.clientSecret) return json(res, ...graphError(400, 'Error validating client secret.', 1));
      const issued = codes.get(q.get('code') ?? '');
      if (!issued || issued.used) return json(res, ...graphError(400, 'This authorization code has been used.', 100));
      issued.used = true;
      if (issued.redirectUri !== q.get('redirect_uri')) return json(res, ...graphError(400, 'Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request', 100));
      const verifier = q.get('code_verifier');
      if (issued.codeChallenge && (!verifier || createHash('sha256').update(verifier).digest('base64url') !== issued.codeChallenge)) {
        return json(res, ...graphError(400, 'Invalid code verifier.', 100));
      }
      const token = `EAAfake${randomBytes(24).toString('base64url')}`;
      tokens.set(token, issued.account);
      issuedAccessTokens.push(token);
      return json(res, 200, { access_token: token, token_type: 'bearer', expires_in: 5_183_944 });
    }
    if (req.method === 'GET' && url.pathname === '/v19.0/me') {
      const token = q.get('access_token') ?? '';
      const account = tokens.get(token);
      if (!account) return json(res, ...graphError(400, 'Invalid OAuth access token.', 190));
      const proof = createHmac('sha256', app.clientSecret).update(token).digest('hex');
      if (q.get('appsecret_proof') !== proof) return json(res, ...graphError(400, 'Invalid appsecret_proof provided in the API argument', 100));
      const user = users.get(account)!;
      const fields = new Set((q.get('fields') ?? 'id,name').split(','));
      const out: Record<string, string> = {};
      for (const f of ['id', 'name', 'email'] as const) if (fields.has(f) && user[f] !== undefined) out[f] = user[f];
      return json(res, 200, out);
    }
    return json(res, 404, { error: { message: 'Unknown path', type: 'GraphMethodException', code: 100 } });
  });
  return {
    origin: http.origin,
    env: {
      FACEBOOK_CLIENT_ID: app.clientId,
      FACEBOOK_CLIENT_SECRET: app.clientSecret,
      FACEBOOK_AUTH_URL: `${http.origin}/v19.0/dialog/oauth`,
      FACEBOOK_TOKEN_URL: `${http.origin}/v19.0/oauth/access_token`,
      FACEBOOK_GRAPH_URL: `${http.origin}/v19.0`,
    },
    users,
    issuedAccessTokens,
    close: http.close,
  };
}
