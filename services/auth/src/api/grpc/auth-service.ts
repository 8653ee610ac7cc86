import { authV1 } from '@nova/proto';
import { AppError, isUuid, unary, type AccessTokenVerifier, type GrpcServiceRegistration } from '@nova/platform';
import type { AppContext } from '../../context.js';
import * as uq from '../../db/queries/users.js';
import { toPublicUser } from '../../domain/accounts.js';
import { checkPermission } from '../../domain/permissions.js';

/** Most ids GetUsersByIds takes in one call. */
export const MAX_IDS_PER_CALL = 500;

/**
 * Services allowed the methods that reveal an email address (mTLS certificate names): GetUserByEmail and
 * GetUserWithEmail are not open to every service.
 */
export const EMAIL_LOOKUP_CALLERS = ['notification', 'user'] as const;

/**
 * nova.auth.v1.AuthService: accounts, token verification and permissions for the other services.
 * `verifier` is the process's platform token verifier (the one the HTTP hook uses).
 */
export function authGrpc(ctx: AppContext, verifier: AccessTokenVerifier): GrpcServiceRegistration {
  const implementation: authV1.AuthServiceServer = {
    getUser: unary(async (req: authV1.GetUserRequest) => {
      const user = await uq.findById(ctx.db, uuid(req.id, 'id'));
      if (!user) throw notFound();
      return { user: toProto(user, false) };
    }),

    getUsersByIds: unary(async (req: authV1.GetUsersByIdsRequest) => {
      if (req.ids.length > MAX_IDS_PER_CALL) {
        throw new AppError('VALIDATION_FAILED', `at most ${MAX_IDS_PER_CALL} ids per call, got ${req.ids.length}`, { details: { field: 'ids', max: MAX_IDS_PER_CALL } });
      }
      const ids = [...new Set(req.ids.map((id, i) => uuid(id, `ids[${i}]`)))];
      const rows = new Map((await uq.findByIds(ctx.db, ids)).map((u) => [u.id, u]));
      return { users: ids.flatMap((id) => (rows.has(id) ? [toProto(rows.get(id)!, false)] : [])) };
    }),

    checkUserExists: unary(async (req: authV1.CheckUserExistsRequest) => ({
      exists: (await uq.findById(ctx.db, uuid(req.id, 'id'))) !== undefined,
    })),

    getUserByEmail: unary(async (req: authV1.GetUserByEmailRequest) => {
      const email = req.email.trim();
      if (!/^[^@\s]+@[^@\s]+$/.test(email) || email.length > 320) {
        throw new AppError('VALIDATION_FAILED', 'email must be an email address', { details: { field: 'email' } });
      }
      const user = await uq.findByEmail(ctx.db, email);
      if (!user) throw notFound();
      return { user: toProto(user, true) };
    }),

    getUserWithEmail: unary(async (req: authV1.GetUserWithEmailRequest) => {
      const user = await uq.findById(ctx.db, uuid(req.id, 'id'));
      if (!user) throw notFound();
      return { user: toProto(user, true) };
    }),

    verifyToken: unary(async (req: authV1.VerifyTokenRequest) => {
      if (req.token === '') throw new AppError('UNAUTHENTICATED', 'a token is required');
      // The platform verifier: UNAUTHENTICATED for any invalid, refresh or revoked token (one generic
      // message), DEPENDENCY_UNAVAILABLE when the keys cannot be had.
      const id = await verifier.verify(req.token, { logger: ctx.logger });
      return { user_id: id.userId, session_id: id.sessionId, role: id.role, token_id: id.tokenId, expires_at: id.expiresAt.toISOString() };
    }),

    checkPermission: unary(async (req: authV1.CheckPermissionRequest) => checkPermission(ctx, req.user_id, req.permission)),
  };
  return {
    definition: authV1.AuthServiceService,
    implementation,
    // Every method needs a verified service certificate (under TLS); the two that reveal emails only a few.
    allow: { '*': ['*'], GetUserByEmail: EMAIL_LOOKUP_CALLERS, GetUserWithEmail: EMAIL_LOOKUP_CALLERS },
  };
}

function uuid(value: string, field: string): string {
  if (!isUuid(value)) throw new AppError('VALIDATION_FAILED', `${field} must be a UUID`, { details: { field } });
  return value.toLowerCase();
}

function notFound(): AppError {
  return new AppError('NOT_FOUND', 'account not found');
}

function toProto(row: uq.UserRow, withEmail: boolean): authV1.User {
  const u = toPublicUser(row);
  return {
    id: u.id,
    username: u.username,
    role: u.role,
    email_verified: u.email_verified,
    created_at: u.created_at,
    ...(withEmail && u.email !== null ? { email: u.email } : {}),
  };
}
