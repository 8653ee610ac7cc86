import { defineService, eventFilter, type EventEnvelope, type Transaction } from '@nova/platform';
import { feedGrpc } from './api/grpc/feed-service.js';
import { routes } from './api/http/routes.js';
import { feedConfig } from './config.js';
import { createContext, type AppContext } from './context.js';
import { migrations } from './db/migrations/index.js';
import { purgeSnapshots } from './db/queries/snapshots.js';
import type { FeedDb } from './db/schema.js';
import { onPostFanout } from './domain/fanout.js';
import { HomeFeed } from './domain/home.js';
import { onBlockEvent, onCommentEvent, onFollowEvent, onMuteEvent, onPostEvent, onProfileEvent, onUserDeleted } from './domain/projection.js';
import { Trending } from './domain/trending.js';

type Handler = (ctx: AppContext, tx: Transaction<FeedDb>, event: EventEnvelope) => Promise<void>;

/** Fan-out that keeps failing (Redis down) is retried for about a quarter of an hour before it is dead-lettered. */
const FANOUT_MAX_DELIVER = 20;
const FANOUT_RETRY_MAX_MS = 60_000;

/** Home timelines (fan-out on write, heavy authors merged at read), ranked and latest feeds, trending, explore. */
export const feedService = defineService({
  name: 'feed',
  description: 'home timeline (fan-out on write, ranked), trending, explore',
  config: feedConfig,
  migrations,
  create(deps) {
    const ctx = createContext(deps);
    const prefix = deps.platform.NATS_SUBJECT_PREFIX;
    const consume = (purpose: string, filterSubject: string, handler: Handler, extra: { maxDeliver?: number; retryMaxMs?: number; concurrency?: number } = {}) =>
      deps.consumer({ purpose, filterSubject, handler: (tx, event) => handler(ctx, tx.withSchema('feed') as Transaction<FeedDb>, event), ...extra });
    // The read model, one durable consumer per subject (NATS 2.9: one filter each).
    consume('posts', eventFilter(prefix, 'content', 'post'), onPostEvent);
    consume('comments', eventFilter(prefix, 'content', 'comment'), onCommentEvent);
    consume('follows', eventFilter(prefix, 'user', 'follow'), onFollowEvent);
    consume('blocks', eventFilter(prefix, 'user', 'block'), onBlockEvent);
    consume('mutes', eventFilter(prefix, 'user', 'mute'), onMuteEvent);
    consume('profiles', eventFilter(prefix, 'user', 'profile'), onProfileEvent);
    consume('user-deleted', eventFilter(prefix, 'auth', 'user', 'deleted'), onUserDeleted);
    // Fan-out has its own consumer of the same posts, so a Redis outage holds back only the timelines.
    consume('fanout', eventFilter(prefix, 'content', 'post'), onPostFanout, { maxDeliver: FANOUT_MAX_DELIVER, retryMaxMs: FANOUT_RETRY_MAX_MS, concurrency: deps.config.FEED_FANOUT_CONCURRENCY });

    const home = new HomeFeed(ctx);
    const trending = new Trending(ctx, home);
    let housekeeping: NodeJS.Timeout | undefined;
    return {
      http: routes(ctx, home, trending),
      grpc: [feedGrpc(home, trending)],
      async start() {
        trending.start();
        housekeeping = setInterval(() => {
          purgeSnapshots(ctx.db).catch((err: unknown) => ctx.logger.warn({ err }, 'feed snapshot purge failed'));
        }, 60_000);
        housekeeping.unref();
      },
      async stop() {
        trending.stop();
        if (housekeeping) clearInterval(housekeeping);
      },
    };
  },
});

export type { FeedDb };
