import { AppError, decodePosition, encodePosition } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as sq from '../db/queries/stories.js';
import { normaliseId, type Page } from './stories.js';

/**
 * Adds someone to the caller's close-friends list (who sees `close_friends` stories). Idempotent. The person
 * must be a live user with no block either way between the two (NOT_FOUND otherwise, as for a profile).
 */
export async function addCloseFriend(ctx: AppContext, callerId: string, friendId: string): Promise<{ user_id: string; added: boolean }> {
  const me = normaliseId(callerId, 'caller_id');
  const them = normaliseId(friendId, 'userId');
  if (me === them) throw new AppError('BAD_REQUEST', 'you cannot add yourself to your close friends');
  const [profile, blocked] = await Promise.all([ctx.users.profile(them), ctx.users.isBlocked(me, them)]);
  if (!profile || blocked) throw new AppError('NOT_FOUND', 'user not found');
  return { user_id: them, added: await sq.addCloseFriend(ctx.db, me, them) };
}

/** Removes someone from the caller's close friends. Idempotent. */
export async function removeCloseFriend(ctx: AppContext, callerId: string, friendId: string): Promise<void> {
  await sq.removeCloseFriend(ctx.db, normaliseId(callerId, 'caller_id'), normaliseId(friendId, 'userId'));
}

/** The caller's close friends, most recently added first. */
export async function listCloseFriends(ctx: AppContext, callerId: string, req: { limit?: number; cursor?: string }): Promise<Page<{ user_id: string; added_at: string }>> {
  const me = normaliseId(callerId, 'caller_id');
  const limit = req.limit ?? 20;
  const rows = await sq.closeFriendsPage(ctx.db, me, limit + 1, decodePosition(req.cursor));
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    items: page.map((r) => ({ user_id: r.friend_id, added_at: r.created_at.toISOString() })),
    next_cursor: rows.length > limit && last ? encodePosition(last.position_at, last.friend_id) : null,
  };
}
