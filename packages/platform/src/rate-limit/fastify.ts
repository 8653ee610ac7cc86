import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ClientIpResolver } from './client-ip.js';
import { rateLimitHeaders, type RateLimiter } from './limiter.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Rate limit preset of the route, applied by `registerRateLimit` (absent or false: not limited). */
    rateLimit?: string | false;
  }
}

export interface RateLimitHookOptions {
  /** IPs/CIDRs of reverse proxies whose X-Forwarded-For is believed (config TRUSTED_PROXIES); default none. */
  trustedProxies?: readonly string[];
  /** The authenticated user's id, if any. Runs in the hook's phase, so authentication must come earlier. */
  getUserId?: (req: FastifyRequest) => string | undefined;
}

export type RateLimitHook = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * A hook (usable as `onRequest` or `preHandler`) that limits a route with one preset: admitted responses
 * carry `RateLimit-Limit`, `-Remaining` and `-Reset`; a refusal is thrown as the AppError (429 with
 * Retry-After, or 503 when a fail-closed preset cannot reach Redis) for the global error handler. When
 * Redis is down and the preset fails open, the request passes without RateLimit headers.
 *
 *   app.post('/login', { onRequest: rateLimitHook(limiter, 'auth', { trustedProxies }) }, handler)
 */
export function rateLimitHook(limiter: RateLimiter, presetName: string, opts: RateLimitHookOptions = {}): RateLimitHook {
  return makeHook(limiter, presetName, new ClientIpResolver(opts.trustedProxies ?? []), opts.getUserId);
}

function makeHook(limiter: RateLimiter, presetName: string, clientIp: ClientIpResolver, getUserId: RateLimitHookOptions['getUserId']): RateLimitHook {
  limiter.preset(presetName); // an unknown name fails at start-up
  return async (req, reply) => {
    const decision = await limiter.enforce(presetName, { userId: getUserId?.(req), ip: clientIp.fromRequest(req) });
    reply.headers(rateLimitHeaders(decision));
  };
}

export interface RegisterRateLimitOptions extends RateLimitHookOptions {
  /**
   * Phase of the global hook. Default `preHandler`: authentication hooks (onRequest, preValidation) have
   * run, so `getUserId` sees the user. `onRequest` refuses before the body is read, for a `getUserId`
   * that needs nothing set by other hooks.
   */
  hook?: 'onRequest' | 'preHandler';
  /** Preset for routes that name none (default: such routes are not limited). */
  defaultPreset?: string;
}

/**
 * Per-route opt-in through one global hook: a route says `config: { rateLimit: 'auth' }` (or `false` to
 * opt out of `defaultPreset`). Call this on the root instance before the routes are registered; preset
 * names are checked as each route is added, so a typo fails the boot.
 */
export function registerRateLimit<App extends FastifyInstance>(app: App, limiter: RateLimiter, opts: RegisterRateLimitOptions = {}): void {
  if (opts.defaultPreset !== undefined) limiter.preset(opts.defaultPreset);
  const clientIp = new ClientIpResolver(opts.trustedProxies ?? []);
  const hooks = new Map(limiter.presetNames().map((name) => [name, makeHook(limiter, name, clientIp, opts.getUserId)] as const));
  app.addHook('onRoute', (route) => {
    const name = route.config?.rateLimit;
    if (typeof name === 'string') limiter.preset(name);
  });
  const hook: RateLimitHook = async (req, reply) => {
    const name = req.routeOptions.config?.rateLimit ?? opts.defaultPreset;
    if (typeof name !== 'string') return;
    // A name missing from the map belongs to a route added before this hook: makeHook throws for it.
    await (hooks.get(name) ?? makeHook(limiter, name, clientIp, opts.getUserId))(req, reply);
  };
  if ((opts.hook ?? 'preHandler') === 'onRequest') app.addHook('onRequest', hook);
  else app.addHook('preHandler', hook);
}
