/**
 * The contract between the auth service, which signs tokens, and every service that verifies them.
 * RS256 only; the `kid` header names a key of the JWKS auth publishes at /.well-known/jwks.json.
 */
export const TOKEN_ALGORITHM = 'RS256';
export const ROLES = ['user', 'moderator', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export type TokenType = 'access' | 'refresh';

export interface TokenClaims {
  iss: string;
  aud: string;
  /** User id (UUID). */
  sub: string;
  /** Session id (UUID): revocation works per session. */
  sid: string;
  jti: string;
  iat: number;
  nbf: number;
  exp: number;
  token_type: TokenType;
  role: Role;
}

/** Who made the request, from a verified access token. The only source of identity. */
export interface AuthIdentity {
  userId: string;
  sessionId: string;
  role: Role;
  tokenId: string;
  expiresAt: Date;
}

/**
 * Revocations live in Redis (the source of truth) and are pushed to every process:
 * - sorted set `<REDIS_KEY_PREFIX>auth:revoked-sessions`: member = session id, score = epoch ms after which
 *   no access token of that session can still be valid (so the entry can be dropped);
 * - pub/sub channel `<REDIS_KEY_PREFIX>auth:revocations`: JSON `{ "sid": "...", "until": <epoch ms> }` per
 *   revoked session, published in the same MULTI as the ZADD.
 * (ioredis prefixes keys but not channels, so the channel name carries the prefix itself.)
 */
export const REVOKED_SESSIONS_KEY = 'auth:revoked-sessions';
export const REVOCATIONS_CHANNEL = 'auth:revocations';

export interface RevocationMessage {
  sid: string;
  until: number;
}

/**
 * Leeway for `exp`, `nbf` and `iat` when verifying, in seconds. `revokeSessions` adds it to every
 * revocation's `until`, so a revocation outlives the last moment a verifier could still accept one of the
 * session's access tokens (the sorted-set score and the message's `until` include it).
 */
export const TOKEN_CLOCK_TOLERANCE_SECONDS = 30;

const ROLE_RANK: Readonly<Record<Role, number>> = { user: 0, moderator: 1, admin: 2 };

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && Object.hasOwn(ROLE_RANK, value);
}

/** True when `role` grants at least `required`: admin ⊇ moderator ⊇ user. */
export function roleAtLeast(role: Role, required: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[required];
}
