import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { TOKEN_ALGORITHM, type TokenClaims } from '@nova/platform';

/**
 * FOR TESTS: a stand-in for the auth service's token side — RSA keys with kids, a JWKS served over local
 * HTTP, and signed tokens with any claims — so a service's tests can mint access tokens without running
 * auth. Exported by @nova/testing.
 */
export interface IssuerKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** Claims to set; a claim given as `undefined` is left out of the token. */
export type ClaimOverrides = { [K in keyof TokenClaims]?: TokenClaims[K] | undefined } & Record<string, unknown>;

export class TestTokenIssuer {
  /** Requests served at the JWKS path. */
  fetches = 0;
  /** Status the JWKS endpoint answers (set to 500 to simulate an outage). */
  jwksStatus = 200;
  private readonly keys = new Map<string, IssuerKey>();
  private readonly published = new Set<string>();
  private signingKid: string | undefined;

  private constructor(
    private readonly server: Server,
    readonly issuer: string,
    readonly audience: string,
    readonly jwksUrl: string,
    private readonly modulusLength: number,
  ) {}

  /** Listens on 127.0.0.1 (a free port) with one published signing key. */
  static async start(opts: { issuer?: string; audience?: string; modulusLength?: number } = {}): Promise<TestTokenIssuer> {
    const ref: { self?: TestTokenIssuer } = {};
    const server = createServer((req, res) => {
      const self = ref.self;
      if (req.method === 'GET' && req.url === '/.well-known/jwks.json' && self) {
        self.fetches += 1;
        if (self.jwksStatus !== 200) {
          res.writeHead(self.jwksStatus).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify(self.jwks()));
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const self = new TestTokenIssuer(server, opts.issuer ?? 'https://auth.nova.test', opts.audience ?? 'nova', `http://127.0.0.1:${port}/.well-known/jwks.json`, opts.modulusLength ?? 2048);
    await self.addKey();
    ref.self = self;
    return self;
  }

  /** Creates a key; published (in the JWKS) and used for signing unless told otherwise. */
  async addKey(opts: { kid?: string; publish?: boolean; sign?: boolean } = {}): Promise<IssuerKey> {
    const { privateKey, publicKey } = await generateKeyPair(TOKEN_ALGORITHM, { modulusLength: this.modulusLength, extractable: true });
    const kid = opts.kid ?? randomUUID();
    const key: IssuerKey = { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: TOKEN_ALGORITHM, use: 'sig' } };
    this.keys.set(kid, key);
    if (opts.publish ?? true) this.published.add(kid);
    if (opts.sign ?? true) this.signingKid = kid;
    return key;
  }

  publish(kid: string): void {
    this.published.add(kid);
  }

  withdraw(kid: string): void {
    this.published.delete(kid);
  }

  jwks(): { keys: JWK[] } {
    return { keys: [...this.published].map((kid) => this.keys.get(kid)!.publicJwk) };
  }

  /** A full claim set for a fresh access token of a new user and session, with `overrides` applied. */
  claims(overrides: ClaimOverrides = {}): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    const base: TokenClaims = { iss: this.issuer, aud: this.audience, sub: randomUUID(), sid: randomUUID(), jti: randomUUID(), iat: now, nbf: now, exp: now + 900, token_type: 'access', role: 'user' };
    const merged: Record<string, unknown> = { ...base, ...overrides };
    for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
    return merged;
  }

  /** Signs `claims(overrides)` with the current signing key (or `opts.key`); `opts.header` adds header fields. */
  async sign(overrides: ClaimOverrides = {}, opts: { key?: IssuerKey; header?: Record<string, unknown> } = {}): Promise<string> {
    const key = opts.key ?? this.keys.get(this.signingKid!)!;
    return new SignJWT(this.claims(overrides)).setProtectedHeader({ alg: TOKEN_ALGORITHM, kid: key.kid, typ: 'JWT', ...opts.header }).sign(key.privateKey);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
