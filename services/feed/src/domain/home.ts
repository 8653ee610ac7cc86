import { AppError, decodeCursor, encodeCursor, isUuid } from '@nova/platform';
import type { contentV1, userV1 } from '@nova/proto';
import type { AppContext } from '../context.js';
import { touchReader } from '../db/queries/graph.js';
import { rebuildEntries, screen, type ScreenedRow, type ScreenOptions } from '../db/queries/timeline.js';
import { rankScore } from './ranking.js';
import { decodeSnapshotCursor, encodeSnapshotCursor, Snapshots } from './snapshots.js';
import type { Entry } from './timelines.js';

export type FeedMode = 'ranked' | 'latest';
/** own post, an author followed, a repost by someone followed, or a trending/explore pick. */
export type Reason = 'own' | 'following' | 'repost' | 'trending';

/** A post in a reader's feed and why it is there. */
export interface FeedItem {
  postId: string;
  authorId: string;
  reason: Reason;
  repostedBy: string | null;
  /** Ranked mode's score (0 in latest mode). */
  score: number;
  /** When it entered the timeline (ms): its creation, or the latest repost by someone followed. */
  enteredAt: number;
}

/** A feed item with its post and author, as a client shows it. */
export interface HydratedItem extends FeedItem {
  post: contentV1.Post;
  author: userV1.Profile;
}

export interface FeedPage<T> {
  items: T[];
  nextCursor: string | null;
}

/** Where a page's timeline came from (the `source` label of feed_reads_total). */
type Source = 'cache' | 'rebuilt' | 'database';

/** How often (per process) a reader's last-seen time is written at most. */
const TOUCH_EVERY_MS = 10 * 60_000;
/** Latest mode: timeline reads per page at most (each reads 2 x limit entries more). */
const LATEST_ROUNDS = 4;
/** The greatest UUID: a latest-mode position before it takes in every entry of its millisecond. */
const WHOLE_MILLISECOND = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

/**
 * The home feed. Reads the reader's cached timeline (rebuilding it from PostgreSQL when it is not in
 * Redis; serving straight from PostgreSQL when Redis is down), merges in the heavy authors they follow,
 * screens everything against the read model (deletions, blocks, mutes, follows, visibility), orders it
 * (ranked: by score over a snapshot; latest: by entry time with a keyset cursor), hydrates the page through
 * content and user gRPC in two batched calls, and re-checks each post against the hydrated facts.
 */
export class HomeFeed {
  private readonly snapshots: Snapshots;
  private readonly touched = new Map<string, number>();

  constructor(private readonly ctx: AppContext) {
    this.snapshots = new Snapshots(ctx);
  }

  /** A page of ids with reasons (gRPC GetFeed). */
  async page(viewerId: string, mode: FeedMode, limit: number, cursor: string | undefined): Promise<FeedPage<FeedItem>> {
    await this.touch(viewerId);
    return mode === 'ranked' ? this.rankedPage(viewerId, limit, cursor) : this.latestPage(viewerId, limit, cursor);
  }

  /** A hydrated page (HTTP): posts the reader may see, with their authors. A page may be short and still have a next cursor. */
  async hydratedPage(viewerId: string, mode: FeedMode, limit: number, cursor: string | undefined): Promise<FeedPage<HydratedItem>> {
    const page = await this.page(viewerId, mode, limit, cursor);
    return { items: await this.hydrate(viewerId, page.items), nextCursor: page.nextCursor };
  }

  /** Forgets a reader's cached timeline and snapshots: the next read rebuilds from PostgreSQL. */
  async invalidate(userId: string): Promise<void> {
    await this.ctx.timelines.drop(userId);
    await this.snapshots.forget(userId);
  }

  private async rankedPage(viewerId: string, limit: number, cursor: string | undefined): Promise<FeedPage<FeedItem>> {
    if (cursor !== undefined) {
      const position = decodeSnapshotCursor(cursor);
      const slice = await this.snapshots.page(viewerId, 'home', position, limit);
      // Re-screen the page: what was deleted, blocked or unfollowed since the snapshot drops out; the order stays.
      const rows = new Map((await screen(this.ctx.db, viewerId, slice.postIds.map((postId) => ({ postId, at: 0 })))).map((r) => [r.id, r]));
      const now = Date.now();
      const items = slice.postIds.flatMap((id) => {
        const r = rows.get(id);
        const item = r && this.toItem(viewerId, r, now);
        return item ? [item] : [];
      });
      this.ctx.metrics.reads.inc({ mode: 'ranked', source: position.store === 'r' ? 'cache' : 'database' });
      return { items, nextCursor: slice.next ? encodeSnapshotCursor(slice.next) : null };
    }
    const { entries, source } = await this.timeline(viewerId);
    const rows = await screen(this.ctx.db, viewerId, entries, { heavy: this.heavy() });
    const now = Date.now();
    const items = rows.flatMap((r) => {
      const item = this.toItem(viewerId, r, now);
      return item ? [item] : [];
    });
    items.sort((a, b) => b.score - a.score || b.enteredAt - a.enteredAt || (a.postId < b.postId ? 1 : -1));
    this.ctx.metrics.reads.inc({ mode: 'ranked', source });
    if (items.length <= limit) return { items, nextCursor: null };
    const saved = await this.snapshots.save(viewerId, 'home', items.map((i) => i.postId));
    return { items: items.slice(0, limit), nextCursor: encodeSnapshotCursor({ ...saved, offset: limit }) };
  }

  private async latestPage(viewerId: string, limit: number, cursor: string | undefined): Promise<FeedPage<FeedItem>> {
    const before = cursor === undefined ? undefined : decodeLatestCursor(cursor);
    const accepted = new Map<string, FeedItem>();
    let below = before?.at.getTime();
    let boundary = -Infinity;
    let source: Source = 'cache';
    for (let round = 0; round < LATEST_ROUNDS; round += 1) {
      const read = await this.timeline(viewerId, { below, count: 2 * limit + 1 });
      source = read.source;
      // Older entries may follow the last one read: accept only what is strictly newer than it (its whole
      // millisecond is read again next round), and merge only heavy authors' posts from that window.
      boundary = read.full ? read.entries.at(-1)!.at : -Infinity;
      const heavy = this.heavy();
      if (boundary > heavy.since.getTime()) heavy.since = new Date(boundary);
      const opts: ScreenOptions = { heavy, ...(before ? { before } : {}) };
      for (const r of await screen(this.ctx.db, viewerId, read.entries, opts)) {
        const item = r.entered_at > boundary ? this.toItem(viewerId, r) : undefined;
        if (item) accepted.set(item.postId, item);
      }
      if (accepted.size > limit || boundary === -Infinity) break;
      below = boundary;
    }
    const sorted = [...accepted.values()].sort((a, b) => b.enteredAt - a.enteredAt || (a.postId < b.postId ? 1 : -1));
    this.ctx.metrics.reads.inc({ mode: 'latest', source });
    if (sorted.length > limit) {
      const items = sorted.slice(0, limit);
      const last = items.at(-1)!;
      return { items, nextCursor: encodeCursor(['t', last.enteredAt, last.postId]) };
    }
    // Everything newer than the boundary is in this (possibly short) page; the next one starts with the boundary's millisecond.
    return { items: sorted, nextCursor: boundary === -Infinity ? null : encodeCursor(['t', boundary, WHOLE_MILLISECOND]) };
  }

  /** A screened row as a feed item (scored when `now` is given: ranked mode), or undefined when the reader may not see it. */
  private toItem(viewerId: string, r: ScreenedRow, now?: number): FeedItem | undefined {
    const reason = decide(viewerId, r);
    if (!reason) return undefined;
    const score = now === undefined ? 0 : rankScore({ createdAt: r.created_at, likes: r.like_count, comments: r.comment_count, affinityLikes: r.aff_likes, affinityComments: r.aff_comments }, now, this.ctx.config);
    return { postId: r.id, authorId: r.author_id, reason, repostedBy: reason === 'repost' ? r.reposted_by : null, score, enteredAt: r.entered_at };
  }

  /**
   * The reader's timeline entries, newest first (all, or `count` at or below `below` ms): from Redis; rebuilt
   * from PostgreSQL and stored when Redis has none; from PostgreSQL alone when Redis fails.
   */
  private async timeline(viewerId: string, opts: { below?: number | undefined; count?: number } = {}): Promise<{ entries: Entry[]; full: boolean; source: Source }> {
    let cached: { entries: Entry[]; full: boolean } | undefined;
    let redisUp = true;
    try {
      cached = await this.ctx.timelines.read(viewerId, opts);
    } catch (err) {
      redisUp = false;
      this.redisDown('timeline_read', err);
    }
    if (cached) return { ...cached, source: 'cache' };
    const rows = await rebuildEntries(this.ctx.db, viewerId, { cap: this.ctx.config.FEED_TIMELINE_CAP, heavyFollowers: this.ctx.config.FEED_HEAVY_AUTHOR_FOLLOWERS });
    const all = rows.map((r) => ({ postId: r.id, at: r.at.getTime() }));
    let source: Source = 'database';
    if (redisUp) {
      try {
        await this.ctx.timelines.store(viewerId, all);
        source = 'rebuilt';
      } catch (err) {
        this.redisDown('timeline_store', err);
      }
    }
    // The same slice Timelines#read would have given.
    const below = opts.below;
    const same = below === undefined ? [] : all.filter((e) => e.at === below);
    const olderAll = below === undefined ? all : all.filter((e) => e.at < below);
    const older = opts.count === undefined ? olderAll : olderAll.slice(0, opts.count);
    return { entries: [...same, ...older], full: opts.count !== undefined && older.length >= opts.count, source };
  }

  private heavy(): NonNullable<ScreenOptions['heavy']> {
    const c = this.ctx.config;
    return {
      followers: c.FEED_HEAVY_AUTHOR_FOLLOWERS,
      since: new Date(Date.now() - c.FEED_HEAVY_MERGE_DAYS * 86_400_000),
      perAuthor: c.FEED_HEAVY_MERGE_POSTS,
    };
  }

  /** Hydrates items through content and user gRPC (two batched calls) and re-checks each against what they say. */
  async hydrate(viewerId: string | undefined, items: readonly FeedItem[]): Promise<HydratedItem[]> {
    if (items.length === 0) return [];
    const [posts, profiles] = await Promise.all([this.ctx.posts.byIds(items.map((i) => i.postId)), this.ctx.users.profiles(items.map((i) => i.authorId))]);
    const out: HydratedItem[] = [];
    for (const item of items) {
      const post = posts.get(item.postId);
      const author = profiles.get(item.authorId);
      if (!post || !author || !visibleNow(viewerId, item, post, author)) continue;
      out.push({ ...item, post, author });
    }
    return out;
  }

  /** Records that the reader is active (fan-out reaches active readers only), at most every 10 minutes per process. */
  private async touch(userId: string): Promise<void> {
    const now = Date.now();
    if ((this.touched.get(userId) ?? 0) > now - TOUCH_EVERY_MS) return;
    if (this.touched.size > 100_000) this.touched.clear();
    this.touched.set(userId, now);
    await touchReader(this.ctx.db, userId, 60);
  }

  private redisDown(operation: string, err: unknown): void {
    this.ctx.metrics.redisFallbacks.inc({ operation });
    this.ctx.logger.warn({ err, operation }, 'feed served from PostgreSQL: Redis unavailable');
  }
}

/** Why a screened post is in the reader's feed, or undefined when it may not be (per the read model). */
function decide(viewerId: string, r: ScreenedRow): Reason | undefined {
  if (r.author_id === viewerId) return 'own';
  if (r.visibility === 'private') return undefined;
  if (r.following) return 'following';
  // Not following the author: only a public post of a public account that someone followed reposted.
  if (r.visibility === 'public' && !r.author_private && r.reposted_by !== null) return 'repost';
  return undefined;
}

/** The visibility rules of content (see its domain/visibility.ts) against the hydrated post and author. */
function visibleNow(viewerId: string | undefined, item: FeedItem, post: contentV1.Post, author: userV1.Profile): boolean {
  if (post.author_id === viewerId) return true;
  if (post.visibility === 'private') return false;
  const following = item.reason === 'following';
  if (post.visibility === 'followers' || author.is_private) return following;
  return true;
}

function decodeLatestCursor(cursor: string): { at: Date; id: string } {
  const [tag, at, id] = decodeCursor(cursor, ['string', 'number', 'string']) as [string, number, string];
  if (tag !== 't' || !Number.isSafeInteger(at) || at < 0 || !isUuid(id)) throw new AppError('VALIDATION_FAILED', 'invalid cursor', { details: { field: 'cursor' } });
  return { at: new Date(at), id: id.toLowerCase() };
}
