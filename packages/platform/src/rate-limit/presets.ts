/**
 * Whose requests a preset counts together:
 * - `user`: the authenticated user id (a request without one is refused with UNAUTHENTICATED);
 * - `ip`: the client IP (resolved through the trusted proxies only);
 * - `user-or-ip`: the user id when authenticated, else the client IP.
 */
export type RateLimitIdentityMode = 'user' | 'ip' | 'user-or-ip';

/**
 * What a preset does when Redis cannot decide (error or timeout): `open` admits the request, `closed`
 * refuses it with RATE_LIMITER_UNAVAILABLE (503). Closed is for endpoints where an unlimited burst is worse
 * than an outage (password guessing); open is for everything else.
 */
export type RateLimitFailMode = 'open' | 'closed';

export interface RateLimitPreset {
  /** Part of the Redis key and the `preset` metrics label: lower-case letters, digits, `_` and `-`. */
  readonly name: string;
  /** Requests admitted per sliding window. */
  readonly limit: number;
  readonly windowMs: number;
  readonly identity: RateLimitIdentityMode;
  readonly failMode: RateLimitFailMode;
}

/** The presets of the original system (design brief §6). */
export const BUILTIN_PRESETS = {
  /** Login and register: 5 per minute per client IP; refuses when Redis is down. */
  auth: { name: 'auth', limit: 5, windowMs: 60_000, identity: 'ip', failMode: 'closed' },
  /** `/api/*`: 100 per minute per user, per client IP when unauthenticated; admits when Redis is down. */
  api: { name: 'api', limit: 100, windowMs: 60_000, identity: 'user-or-ip', failMode: 'open' },
  /** Pre-key bundle fetches (each claims one-time keys): 60 per minute per user; refuses when Redis is down, since an unlimited burst drains other users' prekeys. */
  keys: { name: 'keys', limit: 60, windowMs: 60_000, identity: 'user', failMode: 'closed' },
  /** Public endpoints: 1000 per minute per client IP; admits when Redis is down. */
  public: { name: 'public', limit: 1000, windowMs: 60_000, identity: 'ip', failMode: 'open' },
} as const satisfies Record<string, RateLimitPreset>;

export type BuiltinPresetName = keyof typeof BUILTIN_PRESETS;

const PRESET_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const IDENTITY_MODES: readonly RateLimitIdentityMode[] = ['user', 'ip', 'user-or-ip'];
const FAIL_MODES: readonly RateLimitFailMode[] = ['open', 'closed'];

/** Checks a preset at start-up so a typo fails the boot, not the first request. */
export function validatePreset(p: RateLimitPreset): RateLimitPreset {
  const problems: string[] = [];
  if (!PRESET_NAME.test(p.name)) problems.push('name must match [a-z0-9][a-z0-9_-]{0,63}');
  if (!Number.isSafeInteger(p.limit) || p.limit < 1) problems.push('limit must be an integer >= 1');
  if (!Number.isSafeInteger(p.windowMs) || p.windowMs < 1) problems.push('windowMs must be an integer >= 1');
  if (!IDENTITY_MODES.includes(p.identity)) problems.push(`identity must be one of ${IDENTITY_MODES.join(', ')}`);
  if (!FAIL_MODES.includes(p.failMode)) problems.push(`failMode must be one of ${FAIL_MODES.join(', ')}`);
  if (problems.length > 0) throw new Error(`invalid rate limit preset ${JSON.stringify(p.name)}: ${problems.join('; ')}`);
  return Object.freeze({ ...p });
}
