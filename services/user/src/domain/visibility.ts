import { AppError } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as pq from '../db/queries/profiles.js';
import { blockedEitherWay, isFollowing } from '../db/queries/relations.js';

/**
 * A profile the viewer may see at all: it exists, is not deleted, and neither side blocks the other. A
 * blocked profile answers exactly like a missing one (404), so a block is not revealed.
 */
export async function visibleProfile(ctx: AppContext, viewerId: string | undefined, profileId: string): Promise<pq.ProfileRow> {
  const profile = await pq.findProfile(ctx.db, profileId);
  if (!profile || (viewerId && viewerId !== profileId && (await blockedEitherWay(ctx.db, viewerId, profileId)))) {
    throw new AppError('NOT_FOUND', 'user not found');
  }
  return profile;
}

/** Whether the viewer may see a profile's followers-only material (follower lists, followers-only posts). */
export async function canSeeProtected(ctx: AppContext, viewerId: string | undefined, profile: pq.ProfileRow): Promise<boolean> {
  if (!profile.is_private || viewerId === profile.id) return true;
  return viewerId !== undefined && (await isFollowing(ctx.db, viewerId, profile.id));
}
