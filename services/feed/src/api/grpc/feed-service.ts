import { feedV1 } from '@nova/proto';
import { AppError, isUuid, pageLimit, unary, type GrpcServiceRegistration } from '@nova/platform';
import type { FeedMode, HomeFeed } from '../../domain/home.js';
import { parseWindow, type Trending } from '../../domain/trending.js';

/** nova.feed.v1.FeedService: home feeds (ids and reasons), invalidation and trending for other services. */
export function feedGrpc(home: HomeFeed, trending: Trending): GrpcServiceRegistration {
  const implementation: feedV1.FeedServiceServer = {
    getFeed: unary(async (req: feedV1.GetFeedRequest) => {
      const page = await home.page(uuid(req.user_id, 'user_id'), mode(req.mode), limit(req.limit), req.cursor === '' ? undefined : req.cursor);
      return {
        items: page.items.map((i) => ({
          post_id: i.postId,
          author_id: i.authorId,
          reason: i.reason,
          ...(i.repostedBy === null ? {} : { reposted_by: i.repostedBy }),
          score: i.score,
          entered_at: new Date(i.enteredAt).toISOString(),
        })),
        next_cursor: page.nextCursor ?? '',
      };
    }),

    invalidateFeed: unary(async (req: feedV1.InvalidateFeedRequest) => {
      await home.invalidate(uuid(req.user_id, 'user_id'));
      return {};
    }),

    getTrending: unary(async (req: feedV1.GetTrendingRequest) => {
      const window = parseWindow(req.window);
      const n = limit(req.limit);
      if (req.kind !== '' && req.kind !== 'posts' && req.kind !== 'hashtags') throw new AppError('VALIDATION_FAILED', 'kind must be posts or hashtags', { details: { field: 'kind' } });
      const top = req.kind === 'hashtags' ? await trending.hashtags(window, n) : (await trending.top('posts', window)).slice(0, n);
      return { entries: top.map((t) => ({ id: t.id, score: t.score })) };
    }),
  };
  return { definition: feedV1.FeedServiceService, implementation, allow: { '*': ['*'] } };
}

function uuid(value: string, field: string): string {
  if (!isUuid(value)) throw new AppError('VALIDATION_FAILED', `${field} must be a UUID`, { details: { field } });
  return value.toLowerCase();
}

function mode(value: string): FeedMode {
  if (value === '' || value === 'ranked') return 'ranked';
  if (value === 'latest') return 'latest';
  throw new AppError('VALIDATION_FAILED', 'mode must be ranked or latest', { details: { field: 'mode' } });
}

function limit(value: number): number {
  return pageLimit(value === 0 ? undefined : value, 20, 100);
}
