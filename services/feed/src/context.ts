import type { ConfigOf, Kysely, Logger, Outbox, PlatformConfig, Redis, ServiceDeps } from '@nova/platform';
import { cachedByIds } from './clients/cache.js';
import { grpcPosts, type Posts } from './clients/content.js';
import { grpcUsers, type Users } from './clients/users.js';
import type { feedConfig } from './config.js';
import type { FeedDb } from './db/schema.js';
import { feedMetrics, type FeedMetrics } from './domain/metrics.js';
import { Timelines } from './domain/timelines.js';

export type FeedConfig = ConfigOf<typeof feedConfig>;

/** Everything the feed service's domain code may touch, built once from config by the runner. */
export interface AppContext {
  db: Kysely<FeedDb>;
  redis: Redis;
  logger: Logger;
  metrics: FeedMetrics;
  /** Cached home timelines in Redis. */
  timelines: Timelines;
  outbox: Outbox;
  config: FeedConfig;
  platform: PlatformConfig;
  /** Content (post hydration) and user (author hydration) services, behind interfaces tests may replace. */
  posts: Posts;
  users: Users;
}

export function createContext(deps: ServiceDeps<FeedConfig>, overrides: Partial<AppContext> = {}): AppContext {
  return {
    db: deps.db as Kysely<FeedDb>,
    redis: deps.redis,
    logger: deps.logger,
    metrics: feedMetrics(deps.metrics),
    timelines: new Timelines(deps.redis, deps.config.FEED_TIMELINE_CAP, deps.config.FEED_ACTIVE_DAYS * 86_400),
    outbox: deps.outbox,
    config: deps.config,
    platform: deps.platform,
    posts: { byIds: cachedByIds(grpcPosts(deps.grpc).byIds, hydrationCache(deps.config)) },
    users: { profiles: cachedByIds(grpcUsers(deps.grpc).profiles, hydrationCache(deps.config)) },
    ...overrides,
  };
}

function hydrationCache(config: FeedConfig) {
  return { ttlMs: config.FEED_HYDRATION_CACHE_MS, max: 50_000 };
}
