import { AppError } from '@nova/platform';
import type { AppContext } from '../context.js';
import { callerId, mustBeLive, normaliseId, postCounters, seePost, setReaction, type RequestMeta } from './reactions.js';
import type { Viewer } from './visibility.js';

/**
 * Reposts a post. Only `public` posts can be reposted (a repost shows the post to the reposter's followers,
 * who may not be its audience); others the caller can see answer 403 FORBIDDEN with details.reason
 * `not_public`, the ones they cannot see 404. A public post of a private account is seen by its followers
 * only, so only they can repost it — to followers who may not see it themselves: their reads re-check
 * visibility. Idempotent; PostReposted only when a repost was created.
 */
export async function repost(ctx: AppContext, viewer: Viewer, postId: string, meta: RequestMeta) {
  const me = callerId(viewer);
  const post = await seePost(ctx, viewer, postId);
  const check = (p: { visibility: string; deleted_at: Date | null }) => {
    mustBeLive(p);
    if (p.visibility !== 'public') throw new AppError('FORBIDDEN', 'only public posts can be reposted', { details: { reason: 'not_public' } });
  };
  const changed = await setReaction(ctx, 'reposts', me, post.id, true, meta, check);
  return { changed, reposted: true as const, repost_count: (await postCounters(ctx, post.id)).repost_count };
}

/** Takes back the caller's repost. Idempotent, whatever the post's state; PostUnreposted only when one was removed. */
export async function unrepost(ctx: AppContext, viewer: Viewer, postId: string, meta: RequestMeta): Promise<void> {
  await setReaction(ctx, 'reposts', callerId(viewer), normaliseId(postId), false, meta);
}
