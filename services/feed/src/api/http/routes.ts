import { bearer, ErrorBody, pageLimit, requireIdentity, Type, type HttpApp } from '@nova/platform';
import type { AppContext } from '../../context.js';
import type { HomeFeed } from '../../domain/home.js';
import { parseWindow, type Trending } from '../../domain/trending.js';
import { recordViews } from '../../domain/views.js';
import { FeedPageSchema, FeedQuery, HashtagsQuery, HashtagsSchema, itemJson, TrendingQuery, ViewsBody } from './schemas.js';

const pageJson = (page: { items: Parameters<typeof itemJson>[0][]; nextCursor: string | null }) => ({ items: page.items.map(itemJson), next_cursor: page.nextCursor });

/** Every HTTP route of the feed service: the home feed, trending, explore and view reports. */
export function routes(ctx: AppContext, home: HomeFeed, trending: Trending) {
  return (app: HttpApp) => {
    app.get(
      '/api/v1/feed',
      {
        config: { auth: 'required' },
        schema: {
          summary: 'The home feed',
          description:
            "Posts of the accounts the caller follows, their own, and what those accounts reposted (a post appears once). `ranked` orders by freshness, engagement and the caller's affinity to the author, over a snapshot taken on the first page: later pages never repeat or skip a post while new ones arrive (a cursor older than FEED_SNAPSHOT_TTL_SECONDS answers 410 GONE: start again). `latest` is newest first. Only posts the caller may see; a page may be short and still have a next_cursor.",
          security: bearer,
          querystring: FeedQuery,
          response: { 200: FeedPageSchema, 400: ErrorBody, 401: ErrorBody, 410: ErrorBody, 503: ErrorBody },
        },
      },
      async (req) => pageJson(await home.hydratedPage(requireIdentity(req).userId, req.query.mode ?? 'ranked', pageLimit(req.query.limit, 20, 100), req.query.cursor)),
    );

    app.get(
      '/api/v1/feed/trending',
      {
        config: { auth: 'optional', rateLimit: 'public' },
        schema: {
          summary: 'Trending posts',
          description:
            'Public posts by decayed engagement (view 1, like 5, comment 3, repost 10, half-life FEED_TRENDING_HALF_LIFE_HOURS) within the window, refreshed every FEED_TRENDING_REFRESH_SECONDS. A signed-in caller does not see accounts they block, are blocked by or mute.',
          security: bearer,
          querystring: TrendingQuery,
          response: { 200: FeedPageSchema, 400: ErrorBody, 410: ErrorBody, 503: ErrorBody },
        },
      },
      async (req) => pageJson(await trending.posts(req.identity?.userId, parseWindow(req.query.window), pageLimit(req.query.limit, 20, 100), req.query.cursor)),
    );

    app.get(
      '/api/v1/feed/trending/hashtags',
      {
        config: { auth: 'optional', rateLimit: 'public' },
        schema: {
          summary: 'Trending hashtags',
          description: 'Hashtags by the decayed engagement of the public posts carrying them (each new post using a tag counts 1), within the window.',
          security: bearer,
          querystring: HashtagsQuery,
          response: { 200: HashtagsSchema, 400: ErrorBody },
        },
      },
      async (req) => ({ items: (await trending.hashtags(parseWindow(req.query.window), pageLimit(req.query.limit, 20, 100))).map((t) => ({ tag: t.id, score: t.score })) }),
    );

    app.get(
      '/api/v1/feed/explore',
      {
        config: { auth: 'required' },
        schema: {
          summary: 'Explore: trending posts from accounts the caller does not follow',
          description: 'Trending public posts (default window 7d) minus the caller\'s own, those of accounts they follow, block, are blocked by or mute.',
          security: bearer,
          querystring: TrendingQuery,
          response: { 200: FeedPageSchema, 400: ErrorBody, 401: ErrorBody, 410: ErrorBody, 503: ErrorBody },
        },
      },
      async (req) => pageJson(await trending.posts(requireIdentity(req).userId, parseWindow(req.query.window ?? '7d'), pageLimit(req.query.limit, 20, 100), req.query.cursor, true)),
    );

    app.post(
      '/api/v1/feed/views',
      {
        config: { auth: 'required' },
        schema: {
          summary: 'Report posts the caller saw',
          description: 'Feeds trending: each (reader, post) counts once per 24 hours; views of one\'s own posts do not count. Answers how many views were new.',
          security: bearer,
          body: ViewsBody,
          response: { 202: Type.Object({ counted: Type.Integer({ minimum: 0 }) }), 400: ErrorBody, 401: ErrorBody },
        },
      },
      async (req, reply) => reply.code(202).send({ counted: await recordViews(ctx, requireIdentity(req).userId, req.body.post_ids) }),
    );
  };
}
