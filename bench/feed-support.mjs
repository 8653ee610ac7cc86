// Shared by the feed benchmarks (feed-read, feed-fanout): the feed service and the two services it hydrates
// from over gRPC (content's GetPostsByIds, the user service's GetProfilesByIds) running in this process
// (runServices, as `nova serve feed content user` does) against a throwaway environment, access tokens from
// a local stand-in for auth (TestTokenIssuer, its JWKS set as AUTH_JWKS_URL), a pg pool and a Redis client
// on the environment's key prefix for seeding and for the baseline, and counters of what one request sends:
// PostgreSQL statements (user-support.mjs's counter), Redis round trips (writes on sockets to Redis: ioredis
// writes a pipeline or MULTI in one go) and gRPC calls (grpc-js's HTTP/2 requests).
//
// The feed's read model (feed.posts, follows, authors, readers) is normally filled from events; the
// benchmarks seed it with SQL, and seed content.posts and users.profiles to match, since a feed page is
// hydrated from those over gRPC.
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { connectRedis, createRedis, newId, runServices } from '@nova/platform';
import { createTestEnv, TestTokenIssuer } from '@nova/testing';
import { contentService } from '@nova/content';
import { feedService } from '@nova/feed';
import { userService } from '@nova/user';
import { devNullLogger } from './auth-support.mjs';
import { roundTrips } from './user-support.mjs';

const platformRequire = createRequire(import.meta.resolve('@nova/platform'));
const { default: pg } = await import(pathToFileURL(platformRequire.resolve('pg')).href);

// gRPC calls are counted where grpc-js sends them: one HTTP/2 request (stream) per call on a client session.
// (Its generated clients capture Client#makeUnaryRequest when they are built, so that cannot be patched late.)
const Http2ClientSession = (() => {
  const probe = http2.connect('http://127.0.0.1:9');
  probe.on('error', () => undefined);
  const proto = Object.getPrototypeOf(probe);
  probe.destroy();
  return proto;
})();

/** The feed service's pool size (SERVICES.feed.poolMax): the baseline gets as many connections. */
export const POOL_MAX = 6;
const STATEMENT_TIMEOUT_MS = 60_000;

/**
 * Starts feed + content + user with production-like settings (relay polling every 200 ms, logs `info` to
 * /dev/null). Trending is refreshed once an hour instead of every 30 s, so its queries stay out of the
 * round-trip counts (nothing here engages with posts: its lists are empty either way).
 */
export async function startFeed({ log, overrides = {} }) {
  const env = await createTestEnv();
  const issuer = await TestTokenIssuer.start({ issuer: 'nova-auth', audience: 'nova' });
  const sink = devNullLogger('info', 'nova');
  let platform;
  try {
    log(`starting the feed, content and user services in database ${new URL(env.databaseUrl).pathname.slice(1)}`);
    platform = await runServices({
      services: [feedService, contentService, userService],
      env: env.env({
        AUTH_JWKS_URL: issuer.jwksUrl,
        GRPC_ADDR_AUTH: '127.0.0.1:9',
        TRUSTED_PROXIES: '127.0.0.1',
        OUTBOX_POLL_INTERVAL_MS: '200',
        FEED_TRENDING_REFRESH_SECONDS: '3600',
        ...overrides,
      }),
      logger: sink.logger,
    });
  } catch (err) {
    await issuer.close().catch(() => undefined);
    await env.cleanup().catch(() => undefined);
    sink.close();
    throw err;
  }
  const pool = new pg.Pool({ connectionString: env.databaseUrl, max: POOL_MAX, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000, application_name: 'bench-bare', statement_timeout: STATEMENT_TIMEOUT_MS });
  // The services' Redis keys (timelines are `feed:tl:<id>` under this prefix).
  const redis = createRedis({ url: platform.config.REDIS_URL, keyPrefix: platform.config.REDIS_KEY_PREFIX, commandTimeoutMs: 10_000, logger: sink.logger });
  await connectRedis(redis);
  return {
    env,
    issuer,
    platform,
    pool,
    redis,
    config: platform.config,
    url: `http://127.0.0.1:${platform.httpPort}`,
    async stop() {
      try {
        redis.disconnect();
        await platform.stop();
        await pool.end();
        await issuer.close();
      } finally {
        await env.cleanup();
        sink.close();
        log('services stopped, database, Redis keys and streams deleted');
      }
    },
  };
}

/** A cached home timeline's key (without the prefix the client adds). */
export function timelineKey(userId) {
  return `feed:tl:${userId}`;
}

/** Public profiles for `ids` in users.profiles (hydration asks the user service for them). */
export async function seedProfiles(pool, ids) {
  for (let i = 0; i < ids.length; i += 10_000) {
    await pool.query(
      `INSERT INTO users.profiles (id, username, username_lower, display_name)
       SELECT id, 'u' || ($2::int + n), 'u' || ($2::int + n), 'Person ' || ($2::int + n) FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n)`,
      [ids.slice(i, i + 10_000), i],
    );
  }
}

/** Mints one access token per id. */
export async function mintTokens(issuer, ids) {
  const tokens = [];
  for (const id of ids) tokens.push(await issuer.sign({ sub: id }));
  return tokens;
}

/** n fresh ids. */
export function ids(n) {
  return Array.from({ length: n }, () => newId());
}

/**
 * What `fn` (one request) sends: PostgreSQL statements in every service of the process (the outbox relays'
 * polling left out), Redis round trips (socket writes to Redis by any client of this process) and gRPC
 * calls (HTTP/2 requests) by method. Returns { pg: [statements], redis: n, grpc: [method paths] }.
 */
export async function countTrips(fn, redisPort) {
  const socketWrite = net.Socket.prototype.write;
  const request = Http2ClientSession.request;
  let redis = 0;
  const calls = [];
  net.Socket.prototype.write = function (...args) {
    if (this.remotePort === redisPort) redis++;
    return socketWrite.apply(this, args);
  };
  Http2ClientSession.request = function (headers, ...rest) {
    calls.push(String(headers?.[':path'] ?? '?'));
    return request.call(this, headers, ...rest);
  };
  try {
    const statements = await roundTrips(fn);
    return { pg: statements, redis, grpc: calls };
  } finally {
    net.Socket.prototype.write = socketWrite;
    Http2ClientSession.request = request;
  }
}

/** Percentile of numbers (nearest rank); p in [0, 100]. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function round1(n) {
  return Math.round(n * 10) / 10;
}

/** Redis's used memory in bytes (INFO memory). */
export async function redisUsedMemory(redis) {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}
