import { newId, type Logger, type Redis } from '@nova/platform';

/**
 * Who is connected, across instances, in Redis (keys under the client's REDIS_KEY_PREFIX):
 * - `messaging:online:<user>`: a sorted set of the instances holding a socket of the user, scored by when
 *   that claim lapses (heartbeat × 2 ahead, refreshed every heartbeat), so a crashed instance's claims
 *   expire on their own;
 * - `messaging:last-active:<user>`: when the user last had a socket open (set at connect, every heartbeat
 *   and disconnect; kept 30 days).
 * Failures are logged, never thrown: presence is a hint, not a guarantee.
 */
export class Presence {
  readonly instanceId = newId();

  constructor(private readonly opts: { redis: Redis; logger: Logger; ttlMs: number }) {}

  private online = (userId: string) => `messaging:online:${userId}`;
  private lastActive = (userId: string) => `messaging:last-active:${userId}`;

  /** Marks users as connected here (on connect, and for every local user at each heartbeat). */
  async here(userIds: readonly string[]): Promise<void> {
    if (userIds.length === 0) return;
    const now = Date.now();
    const p = this.opts.redis.pipeline();
    for (const id of userIds) {
      p.zadd(this.online(id), now + this.opts.ttlMs, this.instanceId);
      p.pexpire(this.online(id), this.opts.ttlMs);
      p.set(this.lastActive(id), String(now), 'EX', LAST_ACTIVE_TTL_SECONDS);
    }
    await this.run(p, 'presence update failed');
  }

  /** The user's last socket on this instance closed. */
  async gone(userId: string): Promise<void> {
    const p = this.opts.redis.pipeline();
    p.zrem(this.online(userId), this.instanceId);
    p.set(this.lastActive(userId), String(Date.now()), 'EX', LAST_ACTIVE_TTL_SECONDS);
    await this.run(p, 'presence update failed');
  }

  /** Online now (a claim that has not lapsed) and last activity of each user. */
  async of(userIds: readonly string[]): Promise<Map<string, { online: boolean; lastActiveAt: Date | null }>> {
    const out = new Map<string, { online: boolean; lastActiveAt: Date | null }>();
    if (userIds.length === 0) return out;
    const now = Date.now();
    const p = this.opts.redis.pipeline();
    for (const id of userIds) {
      p.zcount(this.online(id), now, '+inf');
      p.get(this.lastActive(id));
    }
    const res = (await p.exec()) ?? [];
    userIds.forEach((id, i) => {
      const [errCount, count] = res[2 * i] ?? [];
      const [errLast, last] = res[2 * i + 1] ?? [];
      if (errCount || errLast) throw errCount ?? errLast;
      out.set(id, { online: Number(count) > 0, lastActiveAt: typeof last === 'string' ? new Date(Number(last)) : null });
    });
    return out;
  }

  /** Which of `userIds` have a socket open on some instance now (one pipelined ZCOUNT each); rejects when Redis does. */
  async onlineAmong(userIds: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    if (userIds.length === 0) return out;
    const now = Date.now();
    const p = this.opts.redis.pipeline();
    for (const id of userIds) p.zcount(this.online(id), now, '+inf');
    const res = (await p.exec()) ?? [];
    userIds.forEach((id, i) => {
      const [err, count] = res[i] ?? [];
      if (err) throw err;
      if (Number(count) > 0) out.add(id);
    });
    return out;
  }

  private async run(p: ReturnType<Redis['pipeline']>, what: string): Promise<void> {
    try {
      const res = (await p.exec()) ?? [];
      const err = res.find(([e]) => e)?.[0];
      if (err) throw err;
    } catch (err) {
      this.opts.logger.warn({ err: { message: (err as Error).message } }, what);
    }
  }
}

const LAST_ACTIVE_TTL_SECONDS = 30 * 86_400;
