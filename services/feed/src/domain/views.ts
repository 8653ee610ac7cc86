import type { AppContext } from '../context.js';
import { addViewPoints } from '../db/queries/engagement.js';

/** A reader's view of a post counts once a day for trending. */
const VIEW_WINDOW_SECONDS = 86_400;
const VIEW_POINTS = 1;

/**
 * Records that a reader saw posts (a client reports what it showed). Each (reader, post) counts once per
 * 24 h, remembered in Redis; a reader's views of their own posts are not counted — the projection knows
 * authors, so those are filtered in SQL by the caller's id. Without Redis nothing is counted (views are
 * the weakest signal, and counting without de-duplication would let a client inflate them): returns 0.
 */
export async function recordViews(ctx: AppContext, viewerId: string, postIds: readonly string[]): Promise<number> {
  const unique = [...new Set(postIds.map((id) => id.toLowerCase()))];
  const own = new Set((await ctx.db.selectFrom('posts').select('id').where('id', 'in', unique).where('author_id', '=', viewerId).execute()).map((r) => r.id));
  const candidates = unique.filter((id) => !own.has(id));
  if (candidates.length === 0) return 0;
  let fresh: string[];
  try {
    const pipeline = ctx.redis.pipeline();
    for (const id of candidates) pipeline.set(`feed:viewed:${viewerId}:${id}`, '1', 'EX', VIEW_WINDOW_SECONDS, 'NX');
    const res = (await pipeline.exec()) ?? [];
    fresh = candidates.filter((_, i) => !res[i]?.[0] && res[i]?.[1] === 'OK');
  } catch (err) {
    ctx.metrics.redisFallbacks.inc({ operation: 'views' });
    ctx.logger.warn({ err }, 'views not counted: Redis unavailable');
    return 0;
  }
  await addViewPoints(ctx.db, fresh, VIEW_POINTS, new Date());
  return fresh.length;
}
