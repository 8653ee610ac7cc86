import type { Redis } from 'ioredis';
import type { Logger } from '../logging/logger.js';
import { REVOCATIONS_CHANNEL, REVOKED_SESSIONS_KEY, TOKEN_CLOCK_TOLERANCE_SECONDS, type RevocationMessage } from './claims.js';
import { Throttle } from './throttle.js';

const MAX_SID_LENGTH = 256;
/** Upper bound of one resync or PING, whatever the client's own command timeout. */
const OPERATION_TIMEOUT_MS = 10_000;

/** The pub/sub channel of revocations for a key prefix (ioredis prefixes keys, not channel names). */
export function revocationsChannel(keyPrefix: string): string {
  return `${keyPrefix}${REVOCATIONS_CHANNEL}`;
}

export interface SessionRevocation {
  /** Session id (the `sid` claim). */
  sid: string;
  /**
   * Epoch ms at which the session's last access token expires; `Date.now() + access TTL` is always safe.
   * The clock tolerance is added here, so a verifier refuses the session's tokens as long as it could
   * otherwise accept one.
   */
  until: number;
}

/**
 * Records revoked sessions (logout, logout-all, password change, session or account deletion, refresh
 * reuse) in Redis and announces them to every process: one MULTI with, per session, a ZADD into the sorted
 * set (score = until + clock tolerance; GT keeps the later of two revocations) and a PUBLISH on the
 * channel, plus a ZREMRANGEBYSCORE dropping entries whose time has passed. Rejects when Redis refuses or
 * is unreachable: the caller must not report a logout that was not recorded.
 *
 * `keyPrefix` must be the client's own ioredis `keyPrefix` (it names the channel, which ioredis does not
 * prefix); a mismatch throws.
 */
export async function revokeSessions(redis: Redis, keyPrefix: string, sessions: ReadonlyArray<SessionRevocation>): Promise<void> {
  const clientPrefix = redis.options.keyPrefix ?? '';
  if (clientPrefix !== keyPrefix) {
    throw new Error(`revokeSessions: keyPrefix "${keyPrefix}" differs from the Redis client's keyPrefix "${clientPrefix}"`);
  }
  const now = Date.now();
  const entries: RevocationMessage[] = [];
  for (const { sid, until } of sessions) {
    if (typeof sid !== 'string' || sid.length === 0 || sid.length > MAX_SID_LENGTH) throw new TypeError('revokeSessions: sid must be a non-empty string');
    if (typeof until !== 'number' || !Number.isFinite(until)) throw new TypeError('revokeSessions: until must be a finite epoch-ms number');
    const score = Math.ceil(until) + TOKEN_CLOCK_TOLERANCE_SECONDS * 1_000;
    if (score > now) entries.push({ sid, until: score }); // otherwise every token of the session is already refused as expired
  }
  if (entries.length === 0) return;
  const channel = revocationsChannel(keyPrefix);
  const multi = redis.multi();
  for (const entry of entries) {
    multi.zadd(REVOKED_SESSIONS_KEY, 'GT', entry.until, entry.sid);
    multi.publish(channel, JSON.stringify(entry));
  }
  multi.zremrangebyscore(REVOKED_SESSIONS_KEY, '-inf', `(${now}`);
  const results = await multi.exec();
  if (!results) throw new Error('revokeSessions: the transaction was aborted');
  const failed = results.find(([err]) => err);
  if (failed) throw failed[0]!;
}

export interface RevocationListOptions {
  /** The process's Redis client (with its keyPrefix); the subscriber is a duplicate of it. */
  redis: Redis;
  logger: Logger;
  /** Full resync from the sorted set (default 30 s; also right after the subscriber reconnects). */
  resyncIntervalMs?: number;
  /** Called after each resync attempt (metrics). */
  onResync?: (outcome: 'ok' | 'error', size: number) => void;
  now?: () => number;
}

/**
 * The revoked sessions, in memory: checking a token costs a Map lookup, never a Redis round trip.
 *
 * - `start()` subscribes to the revocations channel on a dedicated connection (a duplicate of the given
 *   client), then reads the sorted set, so nothing published in between is missed;
 * - each message adds its session at once: every process knows within the pub/sub latency;
 * - the sorted set is re-read every `resyncIntervalMs` and right after the subscriber reconnects; entries
 *   are merged (never replaced, so a message racing a resync is not lost) and expired ones pruned;
 * - the subscriber is pinged on every resync tick and reconnected if it does not answer (a half-open
 *   connection would otherwise drop messages silently).
 *
 * While Redis is unreachable, the revocations known so far keep being enforced; revocations made during
 * the outage reach this process when it resyncs after reconnecting (and at the latest one resync interval
 * after Redis is back).
 */
export class RevocationList {
  private readonly entries = new Map<string, number>();
  private readonly redis: Redis;
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly throttle: Throttle;
  private subscriber: Redis | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryMs = 0;
  private running = false;
  private syncing: Promise<void> | undefined;
  private lastSync = Number.NEGATIVE_INFINITY;
  readonly channel: string;

  constructor(private readonly opts: RevocationListOptions) {
    this.redis = opts.redis;
    this.logger = opts.logger;
    this.intervalMs = opts.resyncIntervalMs ?? 30_000;
    if (!Number.isFinite(this.intervalMs) || this.intervalMs <= 0) throw new TypeError('resyncIntervalMs must be a positive number');
    this.now = opts.now ?? Date.now;
    this.throttle = new Throttle(30_000, this.now);
    this.channel = revocationsChannel(opts.redis.options.keyPrefix ?? '');
  }

  /** Revoked sessions currently held. */
  get size(): number {
    return this.entries.size;
  }

  /** Epoch ms of the last successful read of the sorted set. */
  get lastSyncAt(): number {
    return this.lastSync;
  }

  /** Subscribes, then loads the sorted set. Rejects (leaving nothing open) when Redis is unreachable. */
  async start(): Promise<void> {
    if (this.running) return;
    const sub = this.redis.duplicate({ lazyConnect: true, autoResubscribe: false, enableOfflineQueue: false, connectionName: 'nova-revocations' });
    sub.on('error', (err: Error & { code?: string }) => {
      if (this.throttle.allow('subscriber-error')) {
        this.logger.warn({ err: { message: err.message, code: err.code }, suppressed: this.throttle.suppressed('subscriber-error') }, 'revocation subscriber: redis connection error');
      }
    });
    sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    // The first 'ready' is the connection made here; every later one is a reconnect: resubscribe, then
    // resync what was published meanwhile.
    let connected = false;
    sub.on('ready', () => {
      if (connected) void this.onReconnected(sub);
      connected = true;
    });
    this.subscriber = sub;
    this.running = true;
    try {
      await sub.connect();
      await sub.subscribe(this.channel);
      await this.resync();
    } catch (err) {
      this.running = false;
      this.subscriber = undefined;
      sub.disconnect();
      throw err;
    }
    this.schedule(this.intervalMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) {
      sub.removeAllListeners('ready');
      sub.disconnect();
    }
    await this.syncing?.catch(() => undefined);
  }

  /** Whether `sid` is revoked (at `now`). */
  isRevoked(sid: string, now = this.now()): boolean {
    const until = this.entries.get(sid);
    if (until === undefined) return false;
    if (until > now) return true;
    this.entries.delete(sid);
    return false;
  }

  /** Reads every live entry of the sorted set and merges it in; prunes expired entries. */
  resync(): Promise<void> {
    this.syncing ??= this.readSortedSet().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  private async readSortedSet(): Promise<void> {
    try {
      const now = this.now();
      const flat = await withTimeout(this.redis.zrangebyscore(REVOKED_SESSIONS_KEY, `(${now}`, '+inf', 'WITHSCORES'), OPERATION_TIMEOUT_MS, 'revocation resync');
      for (let i = 0; i + 1 < flat.length; i += 2) this.add(flat[i]!, Number(flat[i + 1]));
      this.prune(now);
      this.lastSync = now;
      this.opts.onResync?.('ok', this.entries.size);
    } catch (err) {
      this.opts.onResync?.('error', this.entries.size);
      throw err;
    }
  }

  private add(sid: string, until: number): void {
    if (!Number.isFinite(until)) return;
    const known = this.entries.get(sid);
    if (known === undefined || until > known) this.entries.set(sid, until);
  }

  private prune(now: number): void {
    for (const [sid, until] of this.entries) if (until <= now) this.entries.delete(sid);
  }

  private onMessage(channel: string, raw: string): void {
    if (channel !== this.channel) return;
    let msg: Partial<RevocationMessage>;
    try {
      msg = JSON.parse(raw) as Partial<RevocationMessage>;
    } catch {
      msg = {};
    }
    if (typeof msg !== 'object' || msg === null || typeof msg.sid !== 'string' || msg.sid === '' || msg.sid.length > MAX_SID_LENGTH || typeof msg.until !== 'number') {
      if (this.throttle.allow('bad-message')) this.logger.warn({ channel, suppressed: this.throttle.suppressed('bad-message') }, 'ignoring a malformed revocation message');
      return;
    }
    if (msg.until > this.now()) this.add(msg.sid, msg.until);
  }

  private async onReconnected(sub: Redis): Promise<void> {
    if (!this.running || sub !== this.subscriber) return;
    try {
      await sub.subscribe(this.channel);
    } catch (err) {
      this.logger.warn({ err: { message: (err as Error).message } }, 'revocation subscriber could not resubscribe; reconnecting');
      sub.disconnect(true);
      return;
    }
    this.logger.info({ channel: this.channel }, 'revocation subscriber reconnected; resyncing');
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    let next = this.intervalMs;
    try {
      await this.resync();
      this.retryMs = 0;
    } catch (err) {
      // Retry soon (the main client may reconnect later than the subscriber), backing off to the interval.
      this.retryMs = Math.min(Math.max(500, this.retryMs * 2), this.intervalMs);
      next = this.retryMs;
      if (this.throttle.allow('resync')) {
        this.logger.warn(
          { err: { message: (err as Error).message }, revoked_sessions: this.entries.size, last_sync_age_ms: this.now() - this.lastSync, suppressed: this.throttle.suppressed('resync') },
          'revocation resync failed; enforcing the revocations known so far',
        );
      }
    }
    await this.checkSubscriber();
    this.schedule(next);
  }

  /** A subscriber that looks connected but does not answer a PING is reconnected. */
  private async checkSubscriber(): Promise<void> {
    const sub = this.subscriber;
    if (!sub || sub.status !== 'ready') return;
    try {
      await withTimeout(sub.ping(), OPERATION_TIMEOUT_MS, 'PING');
    } catch (err) {
      if (sub !== this.subscriber || !this.running) return;
      this.logger.warn({ err: { message: (err as Error).message } }, 'revocation subscriber did not answer PING; reconnecting');
      sub.disconnect(true);
    }
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
