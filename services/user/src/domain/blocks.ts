import { AppError, decodePosition, type Tx } from '@nova/platform';
import type { UsersDb } from '../db/schema.js';
import type { AppContext } from '../context.js';
import * as bq from '../db/queries/blocks.js';
import { asCaller, graphTransaction, lockPair, normaliseId, pageSize, removeFollowInTx, requireCaller, toPage, type PageRequest, type RequestMeta } from './follows.js';

/**
 * Blocks a user: follows in both directions end (counters corrected, a FollowDeleted each), pending
 * follow requests both ways are dropped, and from then on each is hidden from the other. Repeating it
 * changes nothing (`changed: false`). A user who blocks the caller answers 404 like a missing one, so
 * the caller learns nothing that the profile (also 404) does not already say.
 */
export async function block(ctx: AppContext, callerId: string, targetId: string, meta: RequestMeta): Promise<{ changed: boolean }> {
  const me = normaliseId(callerId);
  const them = normaliseId(targetId);
  if (me === them) throw new AppError('BAD_REQUEST', 'you cannot block yourself');
  return asCaller(ctx, me, () => graphTransaction(ctx, (tx) => blockInTx(ctx, tx, me, them, meta)));
}

async function blockInTx(ctx: AppContext, tx: Tx<UsersDb>, me: string, them: string, meta: RequestMeta): Promise<{ changed: boolean }> {
  const { target, caller } = await lockPair(tx, me, them);
  if (!target) throw new AppError('NOT_FOUND', 'user not found');
  if (await bq.isBlocking(tx, me, them)) return { changed: false };
  if (await bq.isBlocking(tx, them, me)) throw new AppError('NOT_FOUND', 'user not found');
  requireCaller(caller);
  if (!(await bq.insertBlock(tx, me, them))) return { changed: false };
  await removeFollowInTx(ctx, tx, me, them, 'blocked', meta);
  await removeFollowInTx(ctx, tx, them, me, 'blocked', meta);
  await bq.deleteRequestsBetween(tx, me, them);
  await ctx.outbox.add(tx, {
    aggregate: 'block',
    action: 'created',
    type: 'UserBlocked',
    entityId: `${me}:${them}`,
    data: { blocker_id: me, blocked_id: them },
    correlationId: meta.correlationId ?? null,
  });
  return { changed: true };
}

/** Lifts the caller's block of a user (follows removed by it stay removed). Idempotent. */
export async function unblock(ctx: AppContext, callerId: string, targetId: string, meta: RequestMeta): Promise<void> {
  const me = normaliseId(callerId);
  const them = normaliseId(targetId);
  if (me === them) throw new AppError('BAD_REQUEST', 'you cannot unblock yourself');
  await ctx.db.transaction().execute(async (tx) => {
    if (!(await bq.deleteBlock(tx, me, them))) return;
    await ctx.outbox.add(tx, {
      aggregate: 'block',
      action: 'deleted',
      type: 'UserUnblocked',
      entityId: `${me}:${them}`,
      data: { blocker_id: me, blocked_id: them },
      correlationId: meta.correlationId ?? null,
    });
  });
}

/** The people the caller blocks, most recent block first (for a "blocked accounts" screen). */
export async function listBlocked(ctx: AppContext, callerId: string, req: PageRequest) {
  const limit = pageSize(req.limit);
  const rows = await bq.listBlocked(ctx.db, { blockerId: normaliseId(callerId), after: decodePosition(req.cursor), limit: limit + 1 });
  return toPage(rows, limit, 'blocked_at');
}
