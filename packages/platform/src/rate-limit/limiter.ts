import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import ipaddr from 'ipaddr.js';
import { AppError } from '../errors/app-error.js';
import type { Logger } from '../logging/logger.js';
import type { PlatformMetrics } from '../metrics/metrics.js';
import { formatIp, parseIp } from './client-ip.js';
import { BUILTIN_PRESETS, validatePreset, type RateLimitPreset } from './presets.js';
import { SLIDING_WINDOW_LUA } from './sliding-window-script.js';

/** Who is asking: the preset's identity mode picks the user id or the client IP. */
export interface RateLimitIdentity {
  /** Authenticated user id, if any. */
  userId?: string | undefined;
  /** Client IP as resolved by `ClientIpResolver` (only trusted proxies' X-Forwarded-For is believed). */
  ip: string;
}

export type RateLimitOutcome = 'allowed' | 'rejected' | 'error_open' | 'error_closed';

/** Redis answered: the request was counted (admitted) or refused by the limit. */
export interface CountedDecision {
  readonly preset: string;
  readonly outcome: 'allowed' | 'rejected';
  readonly allowed: boolean;
  readonly limit: number;
  /** Requests still admitted in the current window after this one. */
  readonly remaining: number;
  /** Milliseconds until the oldest counted request leaves the window (frees one slot). */
  readonly resetMs: number;
}

/** Redis failed or timed out: the preset's fail mode decided. */
export interface UndecidedDecision {
  readonly preset: string;
  readonly outcome: 'error_open' | 'error_closed';
  readonly allowed: boolean;
  readonly limit: number;
  readonly error: unknown;
}

export type RateLimitDecision = CountedDecision | UndecidedDecision;

export interface RateLimiterOptions {
  /** Shared client from `createRedis` (its keyPrefix applies; its offline queue should stay off). */
  redis: Redis;
  /** Presets by name; default: the built-ins `auth`, `api`, `public`. */
  presets?: Iterable<RateLimitPreset> | Record<string, RateLimitPreset>;
  metrics?: PlatformMetrics;
  logger?: Logger;
  /**
   * Longest wait for Redis per decision before the fail mode applies (default 1000 ms). Caps the delay a
   * slow Redis adds to every request, independently of the client's own (longer) command timeout.
   */
  timeoutMs?: number;
  /**
   * IPv6 clients are counted per network of this many bits (default 64): one subscriber usually holds a
   * whole /64 and could otherwise rotate addresses to escape a per-IP limit. 128 counts each address.
   */
  ipv6SubnetBits?: number;
}

const COMMAND = 'novaRateLimitSlidingWindow';
const ERROR_LOG_INTERVAL_MS = 5_000;

type ScriptedRedis = Redis & {
  [COMMAND](key: string, limit: number, windowMs: number, member: string): Promise<[number, number, number]>;
};

/** Whole seconds until `ms` have passed, rounded up (HTTP headers carry delta-seconds). */
export function ceilSeconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

/** True when Redis made the decision (as opposed to the fail mode). */
export function isCounted(d: RateLimitDecision): d is CountedDecision {
  return d.outcome === 'allowed' || d.outcome === 'rejected';
}

/** `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` for a decision Redis made; none otherwise. */
export function rateLimitHeaders(d: RateLimitDecision): Record<string, string> {
  if (!isCounted(d)) return {};
  return {
    'RateLimit-Limit': String(d.limit),
    'RateLimit-Remaining': String(d.remaining),
    'RateLimit-Reset': String(ceilSeconds(d.resetMs)),
  };
}

/** The error a refused decision becomes: 429 RATE_LIMITED with Retry-After, or 503 RATE_LIMITER_UNAVAILABLE. */
export function rateLimitError(d: RateLimitDecision): AppError {
  if (isCounted(d) && d.outcome === 'rejected') {
    const retryAfter = Math.max(1, ceilSeconds(d.resetMs));
    return new AppError('RATE_LIMITED', 'too many requests', {
      headers: { ...rateLimitHeaders(d), 'Retry-After': String(retryAfter) },
      details: { retry_after_seconds: retryAfter },
    });
  }
  if (d.outcome === 'error_closed') {
    return new AppError('RATE_LIMITER_UNAVAILABLE', `rate limiter for preset ${d.preset} is unavailable`, { cause: d.error, details: { preset: d.preset } });
  }
  throw new Error(`decision ${d.outcome} is not a refusal`);
}

/**
 * Sliding-window-log rate limiter on Redis: one sorted set per (preset, identity) holding the admission
 * times of the last window, and one atomic Lua call per decision (see sliding-window-script.ts). Unlike a
 * fixed window, a burst straddling a window boundary cannot get twice the limit through.
 *
 * Keys are `rl:<preset>:u:<user id>` or `rl:<preset>:ip:<client ip>` (IPv6 as its /64 network), under
 * the Redis client's own keyPrefix.
 */
export class RateLimiter {
  private readonly redis: ScriptedRedis;
  private readonly presets = new Map<string, RateLimitPreset>();
  private readonly metrics: PlatformMetrics | undefined;
  private readonly logger: Logger | undefined;
  private readonly timeoutMs: number;
  private readonly ipv6SubnetBits: number;
  /** Member suffix: unique per process, then a counter, so concurrent callers never collide. */
  private readonly instanceId = randomBytes(6).toString('base64url');
  private seq = 0;
  /** Last failure warning per preset: at most one every ERROR_LOG_INTERVAL_MS each. */
  private readonly lastErrorLog = new Map<string, number>();

  constructor(opts: RateLimiterOptions) {
    const presets = opts.presets ?? BUILTIN_PRESETS;
    const list: Iterable<RateLimitPreset> = Symbol.iterator in presets ? (presets as Iterable<RateLimitPreset>) : Object.values(presets);
    for (const p of list) {
      if (this.presets.has(p.name)) throw new Error(`duplicate rate limit preset ${JSON.stringify(p.name)}`);
      this.presets.set(p.name, validatePreset(p));
    }
    this.timeoutMs = opts.timeoutMs ?? 1_000;
    if (!(this.timeoutMs > 0)) throw new Error('rate limiter timeoutMs must be > 0');
    this.ipv6SubnetBits = opts.ipv6SubnetBits ?? 64;
    if (!Number.isInteger(this.ipv6SubnetBits) || this.ipv6SubnetBits < 1 || this.ipv6SubnetBits > 128) {
      throw new Error('rate limiter ipv6SubnetBits must be an integer in 1-128');
    }
    this.metrics = opts.metrics;
    this.logger = opts.logger;
    const redis = opts.redis as ScriptedRedis;
    // EVALSHA, falling back to EVAL (which loads the script) after a restart or SCRIPT FLUSH.
    if (typeof redis[COMMAND] !== 'function') redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: SLIDING_WINDOW_LUA });
    this.redis = redis;
  }

  /** The preset called `name`; throws for an unknown name (a programming error). */
  preset(name: string): RateLimitPreset {
    const p = this.presets.get(name);
    if (!p) throw new Error(`unknown rate limit preset ${JSON.stringify(name)} (known: ${[...this.presets.keys()].join(', ')})`);
    return p;
  }

  presetNames(): string[] {
    return [...this.presets.keys()];
  }

  /**
   * The Redis key (without the client's keyPrefix) counting `identity` under `presetName`. A `user` preset
   * without a user id throws UNAUTHENTICATED: the route needs an authenticated caller.
   */
  keyFor(presetName: string, identity: RateLimitIdentity): string {
    const p = this.preset(presetName);
    const user = identity.userId !== undefined && identity.userId !== '' ? identity.userId : undefined;
    if (p.identity !== 'ip' && user !== undefined) return `rl:${p.name}:u:${user}`;
    if (p.identity === 'user') throw new AppError('UNAUTHENTICATED', 'authentication required');
    return `rl:${p.name}:ip:${this.ipBucket(identity.ip)}`;
  }

  /**
   * Decides one request and counts it if admitted. Never throws for Redis trouble: the decision's outcome
   * says whether Redis decided or the fail mode did. Records `rate_limit_requests_total` and
   * `rate_limit_rejections_total`.
   */
  async check(presetName: string, identity: RateLimitIdentity): Promise<RateLimitDecision> {
    const p = this.preset(presetName);
    const key = this.keyFor(presetName, identity);
    let decision: RateLimitDecision;
    try {
      const member = `${this.instanceId}:${(this.seq++).toString(36)}`;
      const [allowed, count, resetMs] = await this.withTimeout(this.redis[COMMAND](key, p.limit, p.windowMs, member));
      decision = {
        preset: p.name,
        outcome: allowed === 1 ? 'allowed' : 'rejected',
        allowed: allowed === 1,
        limit: p.limit,
        remaining: Math.max(0, p.limit - count),
        resetMs: Math.max(0, resetMs),
      };
    } catch (error) {
      const open = p.failMode === 'open';
      decision = { preset: p.name, outcome: open ? 'error_open' : 'error_closed', allowed: open, limit: p.limit, error };
      this.logFailure(p, error);
    }
    this.record(decision);
    return decision;
  }

  /** `check`, throwing the refusal as an AppError (429 RATE_LIMITED or 503 RATE_LIMITER_UNAVAILABLE). */
  async enforce(presetName: string, identity: RateLimitIdentity): Promise<RateLimitDecision> {
    const d = await this.check(presetName, identity);
    if (!d.allowed) throw rateLimitError(d);
    return d;
  }

  /** Forgets everything counted for `identity` under `presetName` (support tooling, tests). */
  async reset(presetName: string, identity: RateLimitIdentity): Promise<void> {
    await this.withTimeout(this.redis.del(this.keyFor(presetName, identity)));
  }

  private ipBucket(ip: string): string {
    const addr = parseIp(ip);
    if (!addr) return ip;
    if (addr.kind() === 'ipv4' || this.ipv6SubnetBits === 128) return formatIp(addr);
    const net = ipaddr.IPv6.networkAddressFromCIDR(`${(addr as ipaddr.IPv6).toNormalizedString()}/${this.ipv6SubnetBits}`);
    return `${formatIp(net)}/${this.ipv6SubnetBits}`;
  }

  private record(d: RateLimitDecision): void {
    if (!this.metrics) return;
    this.metrics.rateLimitRequests.inc({ preset: d.preset, outcome: d.outcome });
    if (d.outcome === 'rejected') this.metrics.rateLimitRejections.inc({ preset: d.preset, reason: 'limit' });
    else if (d.outcome === 'error_closed') this.metrics.rateLimitRejections.inc({ preset: d.preset, reason: 'unavailable' });
  }

  private logFailure(p: RateLimitPreset, error: unknown): void {
    const now = Date.now();
    if (!this.logger || now - (this.lastErrorLog.get(p.name) ?? 0) < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorLog.set(p.name, now);
    this.logger.warn(
      { err: { message: (error as Error)?.message ?? String(error) }, preset: p.name, fail_mode: p.failMode },
      `rate limiter cannot reach redis; failing ${p.failMode}`,
    );
  }

  private async withTimeout<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`rate limiter timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
      // The command may still settle after the timeout: swallow that late rejection.
      p.catch(() => undefined);
    }
  }
}
