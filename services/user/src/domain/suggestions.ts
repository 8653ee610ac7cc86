import type { AppContext } from '../context.js';
import { friendsOfFriends, type SuggestionBounds } from '../db/queries/suggestions.js';
import { ensureOwnProfile, toProfile, type ProfileView } from './profiles.js';

export const DEFAULT_SUGGESTIONS = 20;
export const MAX_SUGGESTIONS = 50;
/** The most recent 1000 follows of the user, and the most recent 500 follows of each of them. */
export const SUGGESTION_BOUNDS: SuggestionBounds = { maxFollowees: 1000, maxPerFollowee: 500 };

export interface SuggestionView extends ProfileView {
  /** How many of the people the caller follows follow this person. */
  mutual_count: number;
}

/** People the caller may want to follow: friends of friends, most mutual connections first (see the query). */
export async function suggestions(ctx: AppContext, userId: string, limit = DEFAULT_SUGGESTIONS): Promise<SuggestionView[]> {
  await ensureOwnProfile(ctx, userId);
  const rows = await friendsOfFriends(ctx.db, userId, Math.min(Math.max(limit, 1), MAX_SUGGESTIONS), SUGGESTION_BOUNDS);
  return rows.map((r) => ({ ...toProfile(r), mutual_count: r.mutual_count }));
}
