import { v } from '@nova/platform';

/** The feed service's own variables: timeline sizes, the heavy-author threshold, ranking weights, trending. */
export const feedConfig = {
  FEED_TIMELINE_CAP: v.int({ default: 800, min: 50, max: 10_000, doc: 'entries kept in each cached home timeline (a Redis sorted set)' }),
  FEED_ACTIVE_DAYS: v.int({ default: 7, min: 1, max: 90, doc: 'a user who has not read their feed for this long is inactive: fan-out skips them and their cached timeline expires (rebuilt from PostgreSQL when they return)' }),
  FEED_HEAVY_AUTHOR_FOLLOWERS: v.int({ default: 10_000, min: 1, doc: 'authors with more than this many followers are not fanned out; their recent posts are merged into readers\' feeds at read time' }),
  FEED_HEAVY_MERGE_DAYS: v.int({ default: 3, min: 1, max: 30, doc: 'how far back a heavy author\'s posts are merged in at read time' }),
  FEED_HEAVY_MERGE_POSTS: v.int({ default: 50, min: 1, max: 500, doc: 'most posts of one heavy author merged into a feed' }),
  FEED_FOLLOW_BACKFILL_POSTS: v.int({ default: 50, min: 0, max: 500, doc: 'recent posts of a newly followed author merged into the follower\'s cached timeline' }),
  FEED_FANOUT_BATCH: v.int({ default: 1_000, min: 10, max: 10_000, doc: 'timelines written per pipelined Redis round trip during fan-out' }),
  FEED_HYDRATION_CACHE_MS: v.int({ default: 5_000, min: 0, max: 60_000, doc: 'how long a replica reuses a post or profile it fetched to hydrate feeds (text and counters may lag this much; who may see a post never does); 0 turns the cache off' }),
  FEED_FANOUT_CONCURRENCY: v.int({ default: 1, min: 1, max: 16, doc: 'posts fanned out at the same time per replica (each holds a database connection while it runs; events about one post stay in order); more helps only when Redis has cores to spare — on a 2-core host 4 was slower than 1' }),
  FEED_SNAPSHOT_TTL_SECONDS: v.int({ default: 900, min: 60, max: 86_400, doc: 'how long a ranked feed\'s cursor stays valid (the ranked order is a snapshot taken on the first page)' }),
  FEED_RANK_FRESHNESS_WEIGHT: v.number({ default: 0.3, min: 0, max: 10, doc: 'ranked feed: weight of freshness = exp(-FEED_RANK_FRESHNESS_DECAY x age in minutes)' }),
  FEED_RANK_ENGAGEMENT_WEIGHT: v.number({ default: 0.4, min: 0, max: 10, doc: 'ranked feed: weight of engagement = ln(1 + likes + 2 x comments)' }),
  FEED_RANK_AFFINITY_WEIGHT: v.number({ default: 0.3, min: 0, max: 10, doc: 'ranked feed: weight of affinity = the reader\'s likes (x1.0) and comments (x1.5) on the author in the last 90 days' }),
  FEED_RANK_FRESHNESS_DECAY: v.number({ default: 0.0025, min: 0, max: 1, doc: 'ranked feed: freshness decay per minute of age' }),
  FEED_TRENDING_HALF_LIFE_HOURS: v.number({ default: 7, min: 0.1, max: 720, doc: 'trending: half-life of an interaction\'s weight (view 1, like 5, comment 3, repost 10)' }),
  FEED_TRENDING_REFRESH_SECONDS: v.int({ default: 30, min: 1, max: 3_600, doc: 'trending: how often the top posts and hashtags of each window are recomputed from the engagement counters' }),
};
