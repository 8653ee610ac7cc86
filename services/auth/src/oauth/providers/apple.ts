import type { KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { ClientAuth } from 'openid-client';
import type { Logger } from '@nova/platform';
import { OidcProvider } from './oidc.js';

export interface AppleOptions {
  issuer: string;
  clientId: string;
  teamId: string;
  keyId: string;
  privateKey: KeyObject;
  timeoutMs: number;
  allowHttp: boolean;
  logger: Logger;
}

/** Lifetime of the client secret JWT (Apple accepts up to six months); a fresh one is signed before it ends. */
const SECRET_TTL_SECONDS = 3_600;
const SECRET_RENEW_BEFORE_SECONDS = 600;

/**
 * Sign in with Apple's client secret: an ES256 JWT signed with the team's private key (`kid` = key id,
 * `iss` = team id, `sub` = the Services ID, `aud` = Apple's issuer), cached until shortly before it expires.
 */
export class AppleClientSecret {
  private cached: { jwt: string; renewAt: number } | undefined;

  constructor(private readonly o: Pick<AppleOptions, 'issuer' | 'clientId' | 'teamId' | 'keyId' | 'privateKey'>) {}

  async get(now = Date.now()): Promise<string> {
    if (this.cached && now < this.cached.renewAt) return this.cached.jwt;
    const iat = Math.floor(now / 1000);
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: this.o.keyId })
      .setIssuer(this.o.teamId)
      .setSubject(this.o.clientId)
      .setAudience(this.o.issuer.replace(/\/+$/, ''))
      .setIssuedAt(iat)
      .setExpirationTime(iat + SECRET_TTL_SECONDS)
      .sign(this.o.privateKey);
    this.cached = { jwt, renewAt: (iat + SECRET_TTL_SECONDS - SECRET_RENEW_BEFORE_SECONDS) * 1000 };
    return jwt;
  }
}

/** `client_secret_post` with a secret that is signed on demand rather than configured. */
function appleClientAuth(secret: AppleClientSecret): ClientAuth {
  return async (_as, client, body) => {
    body.set('client_id', client.client_id);
    body.set('client_secret', await secret.get());
  };
}

/**
 * The `user` form field Apple posts on the first authorization only: `{"name":{"firstName","lastName"},
 * "email"}`. It is not signed, so only the name is taken from it, and only to suggest a username.
 */
export function appleNameFromCallback(params: URLSearchParams): string | null {
  const raw = params.get('user');
  if (!raw || raw.length > 4096) return null;
  try {
    const user = JSON.parse(raw) as { name?: { firstName?: unknown; lastName?: unknown } };
    const parts = [user.name?.firstName, user.name?.lastName].filter((p): p is string => typeof p === 'string' && p.length > 0);
    return parts.length > 0 ? parts.join(' ') : null;
  } catch {
    return null;
  }
}

/** Sign in with Apple: OpenID Connect with a JWT client secret and `response_mode=form_post`. */
export function appleProvider(o: AppleOptions): OidcProvider {
  return new OidcProvider({
    name: 'apple',
    issuer: o.issuer,
    clientId: o.clientId,
    clientAuth: appleClientAuth(new AppleClientSecret(o)),
    // Apple only returns the email (and posts the name) when these scopes are asked for, which requires form_post.
    scope: 'openid email name',
    formPost: true,
    timeoutMs: o.timeoutMs,
    allowHttp: o.allowHttp,
    logger: o.logger,
    nameFromCallback: appleNameFromCallback,
  });
}
