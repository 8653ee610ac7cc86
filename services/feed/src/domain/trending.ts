import { AppError } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as eq from '../db/queries/engagement.js';
import { screenPublic } from '../db/queries/timeline.js';
import type { FeedItem, FeedPage, HomeFeed, HydratedItem } from './home.js';
import { decodeSnapshotCursor, encodeSnapshotCursor, Snapshots } from './snapshots.js';

export const WINDOWS = { '1h': 3_600, '24h': 86_400, '7d': 604_800 } as const;
export type TrendingWindow = keyof typeof WINDOWS;
export type TrendingKind = 'posts' | 'hashtags';

/** How many entries each materialized top list holds. */
const TOP = 500;
const LONGEST = WINDOWS['7d'];

interface TopList {
  entries: eq.Scored[];
  computedAt: number;
}

/**
 * Trending posts and hashtags. Events add engagement points to 5-minute buckets as they arrive (see
 * projection.ts); every FEED_TRENDING_REFRESH_SECONDS a background job turns the buckets of each window into a
 * top list with exponential decay (half-life FEED_TRENDING_HALF_LIFE_HOURS) and publishes it in Redis, where
 * every replica reads it. Without Redis, a replica computes its own lists from PostgreSQL (held in memory
 * for one refresh interval). Lists are screened per reader (blocks, mutes, privacy, deletions) when served.
 */
export class Trending {
  private readonly memory = new Map<string, TopList>();
  private readonly snapshots: Snapshots;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: AppContext,
    private readonly home: HomeFeed,
  ) {
    this.snapshots = new Snapshots(ctx);
  }

  start(): void {
    const every = this.ctx.config.FEED_TRENDING_REFRESH_SECONDS * 1000;
    const tick = () => {
      this.refresh().catch((err) => this.ctx.logger.warn({ err }, 'trending refresh failed; lists keep their previous values'));
    };
    tick();
    this.timer = setInterval(tick, every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Recomputes every list from the buckets, publishes them, and drops buckets older than the longest window. */
  async refresh(): Promise<void> {
    for (const kind of ['posts', 'hashtags'] as const) {
      for (const window of Object.keys(WINDOWS) as TrendingWindow[]) await this.compute(kind, window, true);
    }
    await eq.purgeEngagement(this.ctx.db, LONGEST + 3_600);
  }

  /** The current top list of a window (scores as of its computation). */
  async top(kind: TrendingKind, window: TrendingWindow): Promise<eq.Scored[]> {
    const name = listKey(kind, window);
    try {
      const raw = await this.ctx.redis.get(name);
      if (raw !== null) return (JSON.parse(raw) as TopList).entries;
    } catch (err) {
      this.ctx.metrics.redisFallbacks.inc({ operation: 'trending_read' });
      this.ctx.logger.warn({ err }, 'trending computed from PostgreSQL: Redis unavailable');
    }
    const held = this.memory.get(name);
    if (held && held.computedAt > Date.now() - this.ctx.config.FEED_TRENDING_REFRESH_SECONDS * 1000) return held.entries;
    return (await this.compute(kind, window, false)).entries;
  }

  /** Trending hashtags (no viewer rules: a tag only counts public posts). */
  async hashtags(window: TrendingWindow, limit: number): Promise<eq.Scored[]> {
    return (await this.top('hashtags', window)).slice(0, limit);
  }

  /**
   * Trending posts for a reader (or anonymous), screened and hydrated, paged over a snapshot; with
   * `explore`, only authors the reader neither is nor follows.
   */
  async posts(viewerId: string | undefined, window: TrendingWindow, limit: number, cursor: string | undefined, explore = false): Promise<FeedPage<HydratedItem>> {
    const kind = explore ? 'explore' : 'trending';
    let items: FeedItem[];
    let next: string | null;
    if (cursor !== undefined) {
      const slice = await this.snapshots.page(viewerId, kind, decodeSnapshotCursor(cursor), limit);
      const scores = new Map((await this.top('posts', window)).map((t) => [t.id, t.score]));
      const screened = await screenPublic(this.ctx.db, viewerId, slice.postIds, { excludeFollowed: explore });
      items = screened.map((r) => item(r.id, r.author_id, scores.get(r.id) ?? 0));
      next = slice.next ? encodeSnapshotCursor(slice.next) : null;
    } else {
      const top = await this.top('posts', window);
      const scores = new Map(top.map((t) => [t.id, t.score]));
      const screened = await screenPublic(this.ctx.db, viewerId, top.map((t) => t.id), { excludeFollowed: explore });
      const all = screened.map((r) => item(r.id, r.author_id, scores.get(r.id) ?? 0));
      items = all.slice(0, limit);
      next = null;
      if (all.length > limit) {
        const saved = await this.snapshots.save(viewerId, kind, all.map((i) => i.postId));
        next = encodeSnapshotCursor({ ...saved, offset: limit });
      }
    }
    return { items: await this.home.hydrate(viewerId, items), nextCursor: next };
  }

  private async compute(kind: TrendingKind, window: TrendingWindow, publish: boolean): Promise<TopList> {
    const half = this.ctx.config.FEED_TRENDING_HALF_LIFE_HOURS;
    const entries = kind === 'posts' ? await eq.topPosts(this.ctx.db, WINDOWS[window], half, TOP) : await eq.topHashtags(this.ctx.db, WINDOWS[window], half, TOP);
    const list: TopList = { entries, computedAt: Date.now() };
    const name = listKey(kind, window);
    this.memory.set(name, list);
    if (publish) {
      try {
        await this.ctx.redis.set(name, JSON.stringify(list), 'EX', Math.max(60, this.ctx.config.FEED_TRENDING_REFRESH_SECONDS * 10));
      } catch (err) {
        this.ctx.metrics.redisFallbacks.inc({ operation: 'trending_publish' });
        this.ctx.logger.warn({ err }, 'trending list kept in memory: Redis unavailable');
      }
    }
    return list;
  }
}

function item(postId: string, authorId: string, score: number): FeedItem {
  return { postId, authorId, reason: 'trending', repostedBy: null, score, enteredAt: 0 };
}

function listKey(kind: TrendingKind, window: TrendingWindow): string {
  return `feed:trending:${kind}:${window}`;
}

export function parseWindow(value: string | undefined): TrendingWindow {
  if (value === undefined || value === '') return '24h';
  if (value in WINDOWS) return value as TrendingWindow;
  throw new AppError('VALIDATION_FAILED', 'window must be 1h, 24h or 7d', { details: { field: 'window' } });
}
