import { Metadata, type handleUnaryCall, type ServerUnaryCall } from '@grpc/grpc-js';
import { AppError } from '../errors/app-error.js';
import { unary } from '../grpc/server.js';
import { roleAtLeast, type AuthIdentity, type Role } from './claims.js';
import { bearerToken, missingCredentials } from './bearer.js';
import type { AccessTokenVerifier, RefusalLogger } from './verifier.js';

/** gRPC metadata key carrying the user's access token (`Bearer <token>`), as in HTTP. */
export const AUTHORIZATION_METADATA_KEY = 'authorization';

/**
 * The user on whose behalf a gRPC call is made, from the `authorization: Bearer <token>` metadata the
 * caller forwarded. Throws AppError UNAUTHENTICATED (no token, or an invalid one), which the Nova gRPC
 * server maps to status UNAUTHENTICATED. This is about the end user; the calling *service* is identified
 * separately by its mTLS certificate (allow lists).
 */
export async function authenticateCall(verifier: AccessTokenVerifier, call: { metadata: Metadata }, opts: { logger?: RefusalLogger } = {}): Promise<AuthIdentity> {
  const values = call.metadata.get(AUTHORIZATION_METADATA_KEY).map((v) => (typeof v === 'string' ? v : v.toString('utf8')));
  const token = bearerToken(values);
  if (token === undefined) throw missingCredentials();
  return verifier.verify(token, opts);
}

/** Throws FORBIDDEN unless `identity`'s role is at least `role` (admin ⊇ moderator ⊇ user). */
export function requireRole(identity: AuthIdentity, role: Role): void {
  if (!roleAtLeast(identity.role, role)) throw new AppError('FORBIDDEN', `this requires the ${role} role`);
}

/**
 * A unary handler (see `unary`) that first authenticates the call's user and, with `role`, checks it:
 *
 *   deletePost: authenticatedUnary(verifier, async (req, user) => posts.delete(req.id, user), { role: 'moderator' })
 */
export function authenticatedUnary<Req, Res>(
  verifier: AccessTokenVerifier,
  fn: (request: Req, identity: AuthIdentity, call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res,
  opts: { role?: Role; logger?: RefusalLogger } = {},
): handleUnaryCall<Req, Res> {
  return unary<Req, Res>(async (request, call) => {
    const identity = await authenticateCall(verifier, call, { logger: opts.logger });
    if (opts.role) requireRole(identity, opts.role);
    return fn(request, identity, call);
  });
}

/**
 * Client side: metadata that forwards a user's access token, e.g.
 * `client.getThing(req, bearerMetadata(token), callback)`. Adds to `metadata` when given (replacing any
 * previous authorization value).
 */
export function bearerMetadata(token: string, metadata: Metadata = new Metadata()): Metadata {
  if (typeof token !== 'string' || !/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) throw new TypeError('bearerMetadata: not a bearer token');
  metadata.set(AUTHORIZATION_METADATA_KEY, `Bearer ${token}`);
  return metadata;
}
