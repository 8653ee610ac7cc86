import { AppError, newId, revokeSessions as publishRevocations, type Tx } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as sq from '../db/queries/sessions.js';
import * as uq from '../db/queries/users.js';
import { issuePair, verifyRefreshToken, type TokenPair } from './tokens.js';

export interface ClientMeta {
  ip: string | null;
  userAgent: string | null;
  device: string | null;
  correlationId?: string;
}

/** Opens a session for a user who just proved who they are, and issues its first token pair. */
export async function startSession(ctx: AppContext, tx: Tx, user: uq.UserRow, meta: ClientMeta): Promise<TokenPair> {
  const id = newId();
  await sq.insertSession(tx, {
    id,
    user_id: user.id,
    device: meta.device?.slice(0, 200) ?? null,
    user_agent: meta.userAgent?.slice(0, 500) ?? null,
    ip: meta.ip,
    expires_at: new Date(Date.now() + ctx.config.AUTH_REFRESH_TTL_SECONDS * 1000),
  });
  return issuePair(ctx, tx, user, id);
}

/**
 * Rotates a refresh token: the presented one stops working and a new pair is issued. Presenting a token
 * that was already rotated is reuse — somebody holds a copy — and revokes the whole session (the token
 * family), unless it comes within the grace window after its rotation (a client retrying a request whose
 * answer it lost), which gets a fresh pair instead.
 */
export async function refresh(ctx: AppContext, refreshToken: string, meta: ClientMeta): Promise<TokenPair> {
  const claims = await verifyRefreshToken(ctx, refreshToken);
  const outcome = await ctx.db.transaction().execute(async (tx) => {
    const session = await sq.lockSession(tx, claims.sid);
    const token = await sq.lockRefreshToken(tx, claims.jti);
    if (!session || !token || token.session_id !== session.id || session.revoked_at || session.expires_at <= new Date()) {
      return { error: new AppError('UNAUTHENTICATED', 'invalid or expired refresh token') };
    }
    const user = await uq.findById(tx, session.user_id);
    if (!user) return { error: new AppError('UNAUTHENTICATED', 'invalid or expired refresh token') };
    if (token.rotated_at) {
      const sinceRotation = Date.now() - token.rotated_at.getTime();
      if (sinceRotation > ctx.config.AUTH_REFRESH_GRACE_SECONDS * 1000) {
        await revokeInTx(ctx, tx, user.id, [session.id], 'refresh_token_reused', meta);
        ctx.logger.warn({ user_id: user.id, session_id: session.id }, 'refresh token reused: session revoked');
        return { error: new AppError('TOKEN_REUSED', 'this refresh token was already used; the session has been revoked') };
      }
    } else {
      await sq.markRotated(tx, token.id);
    }
    await sq.touchSession(tx, session.id, meta.ip);
    return { pair: await issuePair(ctx, tx, user, session.id, token.id) };
  });
  if ('error' in outcome) throw outcome.error;
  return outcome.pair;
}

/** Sessions of a user, newest first. */
export async function listSessions(ctx: AppContext, userId: string, currentSessionId: string) {
  const rows = await sq.activeSessions(ctx.db, userId);
  return rows.map((s) => ({
    id: s.id,
    device: s.device,
    user_agent: s.user_agent,
    ip: s.ip,
    created_at: s.created_at.toISOString(),
    last_seen_at: s.last_seen_at.toISOString(),
    current: s.id === currentSessionId,
  }));
}

/** Revokes one of the caller's own sessions. */
export async function revokeOwnSession(ctx: AppContext, userId: string, sessionId: string, meta: ClientMeta): Promise<void> {
  await ctx.db.transaction().execute(async (tx) => {
    const session = await sq.findSession(tx, sessionId);
    if (!session || session.user_id !== userId || session.revoked_at) throw new AppError('NOT_FOUND', 'session not found');
    await revokeInTx(ctx, tx, userId, [sessionId], 'user_revoked', meta);
  });
}

/** Revokes every live session of a user, optionally keeping one (the caller's, after a password change). */
export async function revokeAllSessions(ctx: AppContext, tx: Tx, userId: string, reason: string, meta: Pick<ClientMeta, 'correlationId'>, keep?: string): Promise<void> {
  const ids = (await sq.activeSessions(tx, userId)).map((s) => s.id).filter((id) => id !== keep);
  await revokeInTx(ctx, tx, userId, ids, reason, meta);
}

/**
 * Marks sessions revoked, records SessionRevoked events, and pushes the revocation to every process
 * through Redis — inside the transaction, so a Redis failure rolls the whole thing back (nothing is
 * half-revoked), while a failed commit after it only revokes early, which is safe.
 */
export async function revokeInTx(ctx: AppContext, tx: Tx, userId: string, sessionIds: string[], reason: string, meta: Pick<ClientMeta, 'correlationId'>): Promise<void> {
  const revoked = await sq.revokeSessions(tx, sessionIds, reason);
  if (revoked.length === 0) return;
  for (const sid of revoked) {
    await ctx.outbox.add(tx, { aggregate: 'session', action: 'revoked', type: 'SessionRevoked', entityId: sid, data: { session_id: sid, user_id: userId, reason }, correlationId: meta.correlationId });
  }
  // The entry is needed until the sessions' last access token expires (the publisher adds the leeway).
  const until = Date.now() + ctx.config.AUTH_ACCESS_TTL_SECONDS * 1000;
  try {
    await publishRevocations(ctx.redis, ctx.platform.REDIS_KEY_PREFIX, revoked.map((sid) => ({ sid, until })));
  } catch (err) {
    throw new AppError('DEPENDENCY_UNAVAILABLE', 'could not publish the revocation', { cause: err, details: { dependency: 'redis' } });
  }
}
