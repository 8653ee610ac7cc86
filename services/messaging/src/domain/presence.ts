import { errors, type AuthIdentity } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as cq from '../db/queries/conversations.js';
import { memberOf } from './access.js';

export interface PresenceView {
  user_id: string;
  /** Null when hidden (their activity status is off, or the caller's own is). */
  online: boolean | null;
  last_active_at: string | null;
}

/**
 * Whether the other members of a conversation are connected now, and when they last were. Each member's
 * `privacy.show_activity_status` decides whether they are shown; like the apps people know, someone who
 * hides their own status sees nobody's.
 */
export async function conversationPresence(ctx: AppContext, caller: AuthIdentity, conversationId: string): Promise<PresenceView[]> {
  const { conversation } = await memberOf(ctx.db, conversationId, caller.userId);
  const others = (await cq.activeMemberIds(ctx.db, conversation.id)).filter((u) => u !== caller.userId).sort();
  const [settings, blocked] = await Promise.all([ctx.users.settings([caller.userId, ...others]), ctx.users.blockedEitherWay(caller.userId)]);
  const mine = settings.get(caller.userId)?.showActivityStatus !== false;
  // Nobody across a block (either way) is shown.
  const shown = new Set(mine ? others.filter((u) => settings.get(u)?.showActivityStatus === true && !blocked.has(u)) : []);
  let states: Awaited<ReturnType<AppContext['presence']['of']>>;
  try {
    states = await ctx.presence.of([...shown]);
  } catch (err) {
    throw errors.unavailable('redis', err);
  }
  return others.map((u) => {
    const s = shown.has(u) ? states.get(u) : undefined;
    return { user_id: u, online: s ? s.online : null, last_active_at: s?.lastActiveAt?.toISOString() ?? null };
  });
}
