import { AppError } from '../errors/app-error.js';
import { INVALID_TOKEN_MESSAGE } from './verifier.js';

/** `Bearer <token>`: scheme case-insensitive (RFC 7235), token in the b64token alphabet of RFC 6750. */
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The `WWW-Authenticate` challenge of a request without credentials (RFC 6750 §3). */
export const BEARER_CHALLENGE = 'Bearer';
/** The `WWW-Authenticate` challenge of a request whose token was refused (RFC 6750 §3.1). */
export const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"';

/**
 * The token of an `Authorization` value: undefined when there is none (absent or empty), the token for
 * `Bearer <token>`, and an UNAUTHENTICATED AppError for anything else (another scheme, a malformed token,
 * several values). Only ever reads the header: a token in the query string is not a credential here.
 */
export function bearerToken(value: string | readonly string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    if (value.length === 0) return undefined;
    if (value.length > 1) throw invalidCredentials('several authorization values');
    return bearerToken(value[0]);
  }
  if (value.trim() === '') return undefined;
  const token = BEARER.exec(value)?.[1];
  if (!token) throw invalidCredentials('the authorization value is not a bearer token');
  return token;
}

/** UNAUTHENTICATED for missing credentials, with the Bearer challenge. */
export function missingCredentials(): AppError {
  return new AppError('UNAUTHENTICATED', 'authentication required', { headers: { 'WWW-Authenticate': BEARER_CHALLENGE } });
}

/** UNAUTHENTICATED for credentials that are present but unusable, with the invalid_token challenge. */
export function invalidCredentials(cause?: unknown): AppError {
  return new AppError('UNAUTHENTICATED', INVALID_TOKEN_MESSAGE, { headers: { 'WWW-Authenticate': INVALID_TOKEN_CHALLENGE }, cause });
}
