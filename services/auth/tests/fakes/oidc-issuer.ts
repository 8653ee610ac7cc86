import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import Provider from 'oidc-provider';
import { readBody } from './http-util.js';

export interface OidcAccount {
  sub: string;
  email?: string;
  /** Apple sends the string "true"/"false"; Google a boolean. */
  email_verified?: boolean | 'true' | 'false';
  name?: string;
}

export interface FakeIssuerOptions {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  scopes: string[];
  /** scope → claims it releases. */
  claims: Record<string, string[]>;
  /** Apple-style client authentication: `client_secret` is an ES256 JWT signed by the team's key. */
  appleClientSecret?: { publicKey: CryptoKey; teamId: string; keyId: string };
}

type Tamper = { claims: (c: JWTPayload) => JWTPayload; foreignKey: boolean };

/**
 * A real OpenID Connect issuer (`oidc-provider`) on 127.0.0.1: discovery, JWKS, authorization endpoint
 * (query or form_post responses), token endpoint with PKCE and client authentication, and ID tokens
 * carrying the account's email/email_verified/name. Its login page is `/interaction/:uid`, which logs in
 * the account named by the browser's `x-test-account` header (consent is pre-granted, as for a
 * first-party app). Tests can make the next ID token lie (`tamperNextIdToken`).
 */
export async function startFakeIssuer(opts: FakeIssuerOptions) {
  const accounts = new Map<string, OidcAccount>();
  const tokenRequests: URLSearchParams[] = [];
  const issuedAccessTokens: string[] = [];
  let tamper: Tamper | undefined;

  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomBytes(6).toString('hex');
  const signingJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  void publicKey;
  const foreign = await generateKeyPair('RS256');

  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: opts.clientId,
        client_secret: opts.clientSecret,
        redirect_uris: [opts.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    jwks: { keys: [signingJwk] },
    scopes: opts.scopes,
    claims: opts.claims,
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { methods: ['S256'], required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: { AccessToken: 3_600, AuthorizationCode: 60, IdToken: 3_600, Interaction: 600, Session: 3_600, Grant: 3_600 },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    async findAccount(_ctx, id) {
      const account = accounts.get(id);
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ ...account }) };
    },
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session?.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
      await grant.save();
      return grant;
    },
  });

  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === '/token') {
      const form = new URLSearchParams(await readBody(ctx.req));
      tokenRequests.push(new URLSearchParams(form));
      if (opts.appleClientSecret && form.get('client_id') === opts.clientId) {
        const { publicKey: key, teamId, keyId } = opts.appleClientSecret;
        try {
          const secret = form.get('client_secret') ?? '';
          if (decodeProtectedHeader(secret).kid !== keyId) throw new Error('wrong kid');
          await jwtVerify(secret, key, { algorithms: ['ES256'], issuer: teamId, subject: opts.clientId, audience: issuer, requiredClaims: ['iat', 'exp'] });
        } catch (err) {
          ctx.status = 401;
          ctx.body = { error: 'invalid_client', error_description: `client secret JWT rejected: ${(err as Error).message}` };
          return;
        }
        form.set('client_secret', opts.clientSecret);
      }
      // oidc-provider reads an already-consumed body from req.body.
      (ctx.req as IncomingMessage & { body?: string }).body = form.toString();
    }
    await next();
    if (ctx.method === 'POST' && ctx.path === '/token' && ctx.status === 200) {
      const body = ctx.body as { access_token?: string; id_token?: string };
      if (body.access_token) issuedAccessTokens.push(body.access_token);
      if (tamper && body.id_token) {
        const { claims, foreignKey } = tamper;
        tamper = undefined;
        const payload = claims(decodeJwt(body.id_token));
        const jwt = await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(foreignKey ? foreign.privateKey : privateKey);
        ctx.body = { ...body, id_token: jwt };
      }
    }
  });

  const callback = provider.callback();
  server.on('request', (req, res) => {
    const match = /^\/interaction\/([^/?]+)/.exec(req.url ?? '');
    if (!match) return void callback(req, res);
    void (async () => {
      try {
        await provider.interactionDetails(req, res);
        const accountId = req.headers['x-test-account'];
        if (typeof accountId !== 'string' || !accounts.has(accountId)) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end('no such test account');
          return;
        }
        await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
      } catch (err) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
      }
    })();
  });

  return {
    issuer,
    clientId: opts.clientId,
    /** The secret the issuer expects (for Apple, what a valid JWT client secret stands for). */
    clientSecret: opts.clientSecret,
    accounts,
    tokenRequests,
    issuedAccessTokens,
    /** The next ID token from the token endpoint carries `claims(original)`, signed by the issuer's key or by a key it never published. */
    tamperNextIdToken(claims: (c: JWTPayload) => JWTPayload, o: { foreignKey?: boolean } = {}) {
      tamper = { claims, foreignKey: o.foreignKey ?? false };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
