import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { AppError, newId, TOKEN_ALGORITHM, type Role, type TokenClaims, type Tx } from '@nova/platform';
import type { AppContext } from '../context.js';
import { insertRefreshToken } from '../db/queries/sessions.js';

export interface TokenPair {
  token_type: 'Bearer';
  access_token: string;
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
  session_id: string;
}

async function sign(ctx: AppContext, claims: { sub: string; sid: string; role: Role; token_type: 'access' | 'refresh'; jti: string; ttl: number }): Promise<string> {
  const key = await ctx.keys.active();
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sid: claims.sid, token_type: claims.token_type, role: claims.role })
    .setProtectedHeader({ alg: TOKEN_ALGORITHM, kid: key.kid, typ: 'JWT' })
    .setIssuer(ctx.platform.AUTH_ISSUER)
    .setAudience(ctx.platform.AUTH_AUDIENCE)
    .setSubject(claims.sub)
    .setJti(claims.jti)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + claims.ttl)
    .sign(key.privateKey);
}

/**
 * Issues an access token and a refresh token for a session. The refresh token's id is recorded (with its
 * parent, when it replaces one) so that rotation and reuse can be told apart.
 */
export async function issuePair(ctx: AppContext, tx: Tx, user: { id: string; role: Role }, sessionId: string, parentRefreshId: string | null = null): Promise<TokenPair> {
  const { AUTH_ACCESS_TTL_SECONDS: accessTtl, AUTH_REFRESH_TTL_SECONDS: refreshTtl } = ctx.config;
  const refreshId = newId();
  await insertRefreshToken(tx, { id: refreshId, session_id: sessionId, parent_id: parentRefreshId, expires_at: new Date(Date.now() + refreshTtl * 1000) });
  const [access, refresh] = await Promise.all([
    sign(ctx, { sub: user.id, sid: sessionId, role: user.role, token_type: 'access', jti: newId(), ttl: accessTtl }),
    sign(ctx, { sub: user.id, sid: sessionId, role: user.role, token_type: 'refresh', jti: refreshId, ttl: refreshTtl }),
  ]);
  return { token_type: 'Bearer', access_token: access, expires_in: accessTtl, refresh_token: refresh, refresh_expires_in: refreshTtl, session_id: sessionId };
}

/** Verifies a refresh token's signature and claims (any non-retired key: refresh tokens outlive rotations). */
export async function verifyRefreshToken(ctx: AppContext, token: string): Promise<TokenClaims> {
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const key = header.kid ? await ctx.keys.verificationKey(header.kid) : undefined;
        if (!key) throw new joseErrors.JWKSNoMatchingKey();
        return key;
      },
      { algorithms: [TOKEN_ALGORITHM], issuer: ctx.platform.AUTH_ISSUER, audience: ctx.platform.AUTH_AUDIENCE, clockTolerance: 30, requiredClaims: ['sub', 'jti', 'exp', 'iat'] },
    );
    if (payload.token_type !== 'refresh' || typeof payload.sid !== 'string') throw new Error('not a refresh token');
    return payload as unknown as TokenClaims;
  } catch (err) {
    ctx.logger.info({ reason: (err as Error).message }, 'refresh token refused');
    throw new AppError('UNAUTHENTICATED', 'invalid or expired refresh token');
  }
}
