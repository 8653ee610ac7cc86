import type { Redis } from '@nova/platform';

/** One timeline entry: a post, and when it entered the timeline (its creation, or a later repost). */
export interface Entry {
  postId: string;
  /** Milliseconds since the epoch. */
  at: number;
}

/**
 * A materialized timeline holds this member at +inf, so "built, and empty" differs from "not built": fan-out
 * only appends to built timelines, and a missing key means the timeline must be rebuilt from PostgreSQL
 * (an inactive reader whose key expired, or a Redis that lost its data).
 */
const BUILT = '.';

/**
 * Appends entries to a timeline only if it is built; ZADD GT keeps the latest time of a post that enters
 * twice (a post, then its repost: one entry). Trims to the cap (plus the marker) from the oldest end.
 * KEYS[1] timeline; ARGV[1] cap; ARGV[2..] score, member pairs. Returns 1 when it wrote, 0 when not built.
 */
const APPEND = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], 'GT', unpack(ARGV, 2))
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1]) - 1
if excess > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, excess - 1) end
return 1`;

type TimelineRedis = Redis & { feedAppend(key: string, cap: number, ...scoreMembers: (string | number)[]): Promise<number> };

/**
 * Home timelines in Redis: one sorted set per reader (`feed:tl:<id>`), post ids scored by entry time, capped,
 * expiring after the reader's inactivity window (each read renews it). Every method throws when Redis cannot
 * be reached; callers decide whether that is fatal (fan-out retries) or not (reads fall back to PostgreSQL).
 */
export class Timelines {
  private readonly redis: TimelineRedis;

  constructor(
    redis: Redis,
    private readonly cap: number,
    private readonly ttlSeconds: number,
  ) {
    if (!('feedAppend' in redis)) redis.defineCommand('feedAppend', { numberOfKeys: 1, lua: APPEND });
    this.redis = redis as TimelineRedis;
  }

  static key(userId: string): string {
    return `feed:tl:${userId}`;
  }

  /**
   * Entries of a built timeline, newest first: all of them; or `count`; or, with `below` (ms), every entry
   * of that very millisecond followed by up to `count` older ones — so a page boundary inside a group of
   * entries sharing one millisecond never loses part of the group. `full` says the older part was cut at
   * `count` (more may follow). Undefined when the timeline is not built. Renews the TTL.
   */
  async read(userId: string, opts: { below?: number | undefined; count?: number | undefined } = {}): Promise<{ entries: Entry[]; full: boolean } | undefined> {
    const key = Timelines.key(userId);
    const multi = this.redis.multi().exists(key);
    if (opts.below !== undefined) multi.zrevrangebyscore(key, opts.below, opts.below, 'WITHSCORES');
    const max = opts.below === undefined ? '(+inf' : `(${opts.below}`;
    if (opts.count === undefined) multi.zrevrangebyscore(key, max, '-inf', 'WITHSCORES');
    else multi.zrevrangebyscore(key, max, '-inf', 'WITHSCORES', 'LIMIT', 0, opts.count);
    const res = await multi.expire(key, this.ttlSeconds).exec();
    if (!res) throw new Error('redis transaction aborted');
    for (const [err] of res) if (err) throw err;
    if (res[0]![1] === 0) return undefined;
    const lists = res.slice(1, -1).map(([, v]) => v as string[]);
    const entries = lists.flatMap(parse);
    const olderCount = lists.at(-1)!.length / 2;
    return { entries, full: opts.count !== undefined && olderCount >= opts.count };
  }

  /** Replaces a timeline with `entries` (newest first, already capped) and marks it built. */
  async store(userId: string, entries: readonly Entry[]): Promise<void> {
    const key = Timelines.key(userId);
    const args: (string | number)[] = ['+inf', BUILT];
    for (const e of entries.slice(0, this.cap)) args.push(e.at, e.postId);
    const res = await this.redis.multi().del(key).zadd(key, ...args).expire(key, this.ttlSeconds).exec();
    if (!res) throw new Error('redis transaction aborted');
    for (const [err] of res) if (err) throw err;
  }

  /** Appends entries to each of `userIds`' built timelines in one pipelined round trip; returns how many were built. */
  async appendMany(userIds: readonly string[], entries: readonly Entry[]): Promise<number> {
    if (userIds.length === 0 || entries.length === 0) return 0;
    const args = entries.flatMap((e) => [e.at, e.postId]);
    const pipeline = this.redis.pipeline();
    for (const id of userIds) (pipeline as unknown as TimelineRedis).feedAppend(Timelines.key(id), this.cap, ...args);
    const res = (await pipeline.exec()) ?? [];
    let written = 0;
    for (const [err, value] of res) {
      if (err) throw err;
      if (value === 1) written += 1;
    }
    return written;
  }

  /** Removes posts from each of `userIds`' timelines (one pipelined round trip). */
  async removeMany(userIds: readonly string[], postIds: readonly string[]): Promise<void> {
    if (userIds.length === 0 || postIds.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const id of userIds) pipeline.zrem(Timelines.key(id), ...postIds);
    const res = (await pipeline.exec()) ?? [];
    for (const [err] of res) if (err) throw err;
  }

  /** Forgets a timeline: the next read rebuilds it. */
  async drop(userId: string): Promise<void> {
    await this.redis.del(Timelines.key(userId));
  }
}

function parse(flat: string[]): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i < flat.length; i += 2) if (flat[i] !== BUILT) out.push({ postId: flat[i]!, at: Number(flat[i + 1]) });
  return out;
}
