import { createHash, randomBytes } from 'node:crypto';

/** SHA-256 of a high-entropy token, for lookups by hash (reset links, backup codes are argon2'd instead). */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** A URL-safe random token with `bytes` of entropy. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
