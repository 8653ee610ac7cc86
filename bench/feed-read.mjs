// Home-feed reads from cache: GET /api/v1/feed?mode=latest|ranked&limit=20 (first page) by signed-in readers
// whose timelines are built in Redis, against the feed service running in this process with content and
// user (see feed-support.mjs), next to a bare Fastify route doing one Redis ZREVRANGE of the same timeline
// and one batched PostgreSQL read of those 20 posts (a copy of content.posts, schema `bare`), with the same
// concurrency, in alternating paired rounds.
//
// The two sides do not do the same work, and the round trips are reported, not required to match: a Nova
// read also passes the rate limiter (Redis), reads the timeline in a MULTI (EXISTS, ZREVRANGEBYSCORE, EXPIRE),
// screens the entries in one PostgreSQL query (deleted posts, blocks, mutes, follows, heavy authors' posts
// merged in), and hydrates the page through two batched gRPC calls (content GetPostsByIds, user
// GetProfilesByIds: one PostgreSQL query each on the other side). Ranked mode screens and scores the whole
// timeline (not 2 x 20 + 1 entries) and keeps a snapshot of the ranked order in Redis for the next pages.
//
// Graph: 2,000 readers each follow 50 of 200 light authors who have 8 posts each over the last ~40 hours, so
// every timeline holds 400 entries. The read-time merge case: 1,000 more readers follow 45 light authors and
// 5 heavy ones (feed.authors.follower_count above FEED_HEAVY_AUTHOR_FOLLOWERS, 60 posts each in the last
// ~20 hours: 50 of each are merged into every read, FEED_HEAVY_MERGE_POSTS). Every reader reads once before
// timing (that builds the timeline from PostgreSQL, marks the reader active and checks the token once).
import { ScriptedLoad, callerOf, measure, startBare } from './user-support.mjs';
import { badResponses, pairedRatio, round3, statusCodes } from './auth-support.mjs';
import { countTrips, ids, mintTokens, redisUsedMemory, seedProfiles, startFeed, timelineKey } from './feed-support.mjs';
import { formatRatio, median } from './lib/format.mjs';

export const description = 'GET /api/v1/feed (latest and ranked, from cached timelines; also readers of 5 heavy authors) vs a bare route with one ZREVRANGE + one batched PG read: req/s, p50/p99, ratios, round trips';

const READERS = 2_000;
const HEAVY_READERS = 1_000;
const AUTHORS = 200;
const FOLLOWS = 50;
const POSTS_PER_AUTHOR = 8;
const HEAVY_AUTHORS = 5;
const HEAVY_POSTS_PER_AUTHOR = 60;
const HEAVY_FOLLOWER_COUNT = 20_000;
const LIMIT = 20;
const CONNECTIONS = 10;
const SECONDS = 2;
const WARMUP_SECONDS = 1;
const ROUNDS = 5;

/** The baseline: the 20 newest ids of the reader's timeline, then those posts in one query, in timeline order. */
function bareRoutes(redis) {
  return (app, pool) => {
    app.get('/api/v1/feed', async (req) => {
      const me = callerOf(req);
      // 21: the built marker `.` sits at +inf, first in reverse order.
      const ids = (await redis.zrevrange(timelineKey(me), 0, LIMIT)).filter((m) => m !== '.').slice(0, LIMIT);
      const { rows } = await pool.query('SELECT * FROM bare.posts WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL', [ids]);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return {
        items: ids.flatMap((id) => {
          const p = byId.get(id);
          if (!p) return [];
          return [{ post: { id: p.id, author_id: p.author_id, text: p.text, visibility: p.visibility, like_count: p.like_count, comment_count: p.comment_count, created_at: p.created_at.toISOString() } }];
        }),
        next_cursor: null,
      };
    });
  };
}

async function seed(svc, log) {
  const q = (text, values) => svc.pool.query(text, values);
  const readers = ids(READERS);
  const heavyReaders = ids(HEAVY_READERS);
  const authors = ids(AUTHORS);
  const heavyAuthors = ids(HEAVY_AUTHORS);
  await seedProfiles(svc.pool, [...readers, ...heavyReaders, ...authors, ...heavyAuthors]);

  // Light authors' posts: one every 90 s back from now, authors round robin (each author's 8 spread over ~40 h).
  const lightPosts = ids(AUTHORS * POSTS_PER_AUTHOR);
  const heavyPosts = ids(HEAVY_AUTHORS * HEAVY_POSTS_PER_AUTHOR);
  const insertPosts = (postIds, authorIds, stepSeconds) =>
    q(
      `INSERT INTO content.posts (id, author_id, text, visibility, like_count, comment_count, created_at, updated_at)
       SELECT id, ($2::uuid[])[1 + (n - 1) % cardinality($2::uuid[])], 'Post number ' || n || ', plain text for the feed benchmark.', 'public',
              (n * 7) % 37, (n * 3) % 11, now() - n * make_interval(secs => $3), now() - n * make_interval(secs => $3)
       FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n)`,
      [postIds, authorIds, stepSeconds],
    );
  await insertPosts(lightPosts, authors, 90);
  await insertPosts(heavyPosts, heavyAuthors, 240);
  await q(
    `INSERT INTO feed.posts (id, author_id, visibility, is_reply, hashtags, like_count, comment_count, created_at)
     SELECT id, author_id, visibility, false, '{}', like_count, comment_count, created_at FROM content.posts`,
  );
  await q('CREATE SCHEMA bare');
  await q('CREATE TABLE bare.posts (LIKE content.posts INCLUDING ALL)');
  await q('INSERT INTO bare.posts SELECT * FROM content.posts');

  // Reader i follows light authors i, i+4, i+8, ... (mod 200): 50 distinct ones (45 for heavy readers, plus the 5 heavy).
  await q(
    `INSERT INTO feed.follows (follower_id, followee_id, created_at)
     SELECT r.id, ($2::uuid[])[1 + ((r.n - 1) + 4 * j) % cardinality($2::uuid[])], now() - interval '30 days'
     FROM unnest($1::uuid[]) WITH ORDINALITY AS r(id, n), generate_series(0, $3::int - 1) AS j`,
    [readers, authors, FOLLOWS],
  );
  await q(
    `INSERT INTO feed.follows (follower_id, followee_id, created_at)
     SELECT r.id, ($2::uuid[])[1 + ((r.n - 1) + 4 * j) % cardinality($2::uuid[])], now() - interval '30 days'
     FROM unnest($1::uuid[]) WITH ORDINALITY AS r(id, n), generate_series(0, $3::int - 1) AS j`,
    [heavyReaders, authors, FOLLOWS - HEAVY_AUTHORS],
  );
  await q(
    `INSERT INTO feed.follows (follower_id, followee_id, created_at)
     SELECT r, h, now() - interval '30 days' FROM unnest($1::uuid[]) AS r, unnest($2::uuid[]) AS h`,
    [heavyReaders, heavyAuthors],
  );
  // Follower counts as the projection keeps them; the heavy authors' stand for an audience beyond these readers.
  await q(`INSERT INTO feed.authors (id, follower_count) SELECT followee_id, count(*) FROM feed.follows GROUP BY followee_id`);
  await q('UPDATE feed.authors SET follower_count = $2 WHERE id = ANY($1::uuid[])', [heavyAuthors, HEAVY_FOLLOWER_COUNT]);
  await q('VACUUM ANALYZE content.posts, bare.posts, users.profiles, feed.posts, feed.follows, feed.authors');
  log(
    `seeded ${READERS} readers (${FOLLOWS} follows each), ${HEAVY_READERS} readers of ${HEAVY_AUTHORS} heavy authors (+${FOLLOWS - HEAVY_AUTHORS} light), ` +
      `${AUTHORS} light authors x ${POSTS_PER_AUTHOR} posts, ${HEAVY_AUTHORS} heavy authors x ${HEAVY_POSTS_PER_AUTHOR} posts (content, bare and the feed's read model)`,
  );
  return { readers, heavyReaders, authors, heavyAuthors };
}

export async function run({ log }) {
  const svc = await startFeed({ log });
  const cleanups = [() => svc.stop()];
  try {
    const { readers, heavyReaders } = await seed(svc, log);
    log(`minting ${READERS + HEAVY_READERS} tokens`);
    const tokens = await mintTokens(svc.issuer, readers);
    const heavyTokens = await mintTokens(svc.issuer, heavyReaders);

    const load = new ScriptedLoad();
    cleanups.push(() => load.close());
    const bare = await startBare(svc.pool, bareRoutes(svc.redis));
    cleanups.push(() => bare.close());

    // One read per reader: checks the token once, builds the timeline from PostgreSQL, marks the reader active.
    const auth = tokens.map((t) => ({ authorization: `Bearer ${t}` }));
    const heavyAuth = heavyTokens.map((t) => ({ authorization: `Bearer ${t}` }));
    const path = (mode) => `/api/v1/feed?mode=${mode}&limit=${LIMIT}`;
    const scriptsFor = (headers, mode, n = 40_000) => Array.from({ length: n }, (_, k) => [{ method: 'GET', path: path(mode), headers: headers[k % headers.length] }]);
    log(`warming ${READERS + HEAVY_READERS} timelines (one latest read each: rebuilt from PostgreSQL, then cached)`);
    const t0 = performance.now();
    const warm = await load.run({ url: svc.url, scripts: scriptsFor([...auth, ...heavyAuth], 'latest', READERS + HEAVY_READERS), connections: CONNECTIONS, amount: READERS + HEAVY_READERS });
    if (warm.ok !== READERS + HEAVY_READERS) throw new Error(`warm-up: ${warm.ok} of ${READERS + HEAVY_READERS} reads answered 2xx ${JSON.stringify(warm.statusCodes)}`);
    const rebuildSeconds = (performance.now() - t0) / 1000;
    const sizes = await Promise.all([readers[0], readers[READERS - 1], heavyReaders[0]].map((id) => svc.redis.zcard(timelineKey(id))));
    const active = Number((await svc.pool.query('SELECT count(*) AS n FROM feed.readers')).rows[0].n);
    log(`warmed in ${rebuildSeconds.toFixed(1)} s (${Math.round((READERS + HEAVY_READERS) / rebuildSeconds)} rebuilds/s); timeline sizes incl. marker ${sizes.join(', ')}; ${active} active readers`);
    if (sizes[0] !== FOLLOWS * POSTS_PER_AUTHOR + 1 || sizes[2] !== (FOLLOWS - HEAVY_AUTHORS) * POSTS_PER_AUTHOR + 1) throw new Error(`unexpected timeline sizes ${sizes}`);
    if (active !== READERS + HEAVY_READERS) throw new Error(`expected ${READERS + HEAVY_READERS} readers marked active, found ${active}`);

    const targets = [
      { id: 'latest', case: 'nova mode=latest', url: svc.url, scripts: scriptsFor(auth, 'latest'), probeAuth: auth[READERS - 1] },
      { id: 'ranked', case: 'nova mode=ranked', url: svc.url, scripts: scriptsFor(auth, 'ranked'), probeAuth: auth[READERS - 2] },
      { id: 'heavy-latest', case: 'nova mode=latest, 5 heavy followed', url: svc.url, scripts: scriptsFor(heavyAuth, 'latest'), probeAuth: heavyAuth[HEAVY_READERS - 1] },
      { id: 'heavy-ranked', case: 'nova mode=ranked, 5 heavy followed', url: svc.url, scripts: scriptsFor(heavyAuth, 'ranked'), probeAuth: heavyAuth[HEAVY_READERS - 2] },
      { id: 'bare', case: 'bare ZREVRANGE + 1 PG read', url: bare.url, scripts: scriptsFor(auth, 'latest'), probeAuth: auth[READERS - 3] },
    ];
    const modeOf = { latest: 'latest', ranked: 'ranked', 'heavy-latest': 'latest', 'heavy-ranked': 'ranked', bare: 'latest' };

    // One counted request per target (its reader is warm: no rebuild, no readers upsert).
    const redisPort = Number(new URL(svc.config.REDIS_URL).port || 6379);
    let probeIp = 0;
    for (const t of targets) {
      let body;
      t.trips = await countTrips(async () => {
        const res = await fetch(`${t.url}${path(modeOf[t.id])}`, { headers: { ...t.probeAuth, 'x-forwarded-for': `10.254.0.${++probeIp}` } });
        body = await res.json();
        if (res.status !== 200 || body.items?.length !== LIMIT) throw new Error(`${t.case}: expected 200 and ${LIMIT} items, got ${res.status} ${JSON.stringify(body).slice(0, 500)}`);
      }, redisPort);
      t.itemsProbe = body.items.length;
      log(`${t.id}: ${t.trips.pg.length} PG statements, ${t.trips.redis} Redis round trips, ${t.trips.grpc.length} gRPC calls ${JSON.stringify(t.trips.grpc)}`);
    }

    const memBefore = await redisUsedMemory(svc.redis);
    await measure(load, targets, { connections: CONNECTIONS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, rounds: ROUNDS, log });
    const memAfter = await redisUsedMemory(svc.redis);
    const snapshotKeys = await countKeys(svc.redis, `${svc.config.REDIS_KEY_PREFIX}feed:snap:*`);
    const rankedRequests = targets.filter((t) => t.id.endsWith('ranked')).reduce((n, t) => n + t.samples.reduce((m, s) => m + s.ok, 0), 0);
    log(`Redis used memory ${(memBefore / 2 ** 20).toFixed(1)} -> ${(memAfter / 2 ** 20).toFixed(1)} MiB over the measured rounds; ${snapshotKeys} ranked snapshots kept (${rankedRequests} timed ranked reads + warm-ups)`);

    const byId = Object.fromEntries(targets.map((t) => [t.id, t]));
    const ratio = (a, b, f) => round3(pairedRatio(byId[a].samples, byId[b].samples, f));
    const rps = (s) => s.requestsPerSecond;
    const p50 = (s) => s.latencyMs.p50;
    const p99 = (s) => s.latencyMs.p99;
    let failures = 0;
    const rows = targets.map((t) => {
      const notes = [];
      const ratios = {};
      if (t.id !== 'bare') {
        ratios.vsBare = { rps: ratio(t.id, 'bare', rps), p50: ratio(t.id, 'bare', p50), p99: ratio(t.id, 'bare', p99) };
        notes.push(`ratio ${formatRatio(ratios.vsBare.rps)} vs bare (p50 x${formatRatio(ratios.vsBare.p50)}, p99 x${formatRatio(ratios.vsBare.p99)})`);
      }
      if (t.id.startsWith('heavy-')) {
        const plain = t.id.slice('heavy-'.length);
        ratios.vsNoHeavy = { rps: ratio(t.id, plain, rps), p50: ratio(t.id, plain, p50), p99: ratio(t.id, plain, p99) };
        notes.push(`vs no heavy: p50 x${formatRatio(ratios.vsNoHeavy.p50)}, req/s x${formatRatio(ratios.vsNoHeavy.rps)}`);
      }
      notes.push(`${t.trips.pg.length} PG + ${t.trips.redis} Redis round trips, ${t.trips.grpc.length} gRPC`);
      const bad = badResponses(t.samples);
      if (bad > 0) {
        failures += bad;
        notes.push(`${bad} non-2xx/errors/timeouts ${JSON.stringify(statusCodes(t.samples))}`);
      }
      return {
        case: t.case,
        rate: Math.round(t.rps),
        unit: 'req/s',
        p50Ms: round3(t.p50),
        p99Ms: round3(t.p99),
        note: notes.join('; '),
        ratios,
        roundTrips: { pg: t.trips.pg.length, redis: t.trips.redis, grpc: t.trips.grpc.length, grpcMethods: t.trips.grpc, pgStatements: t.trips.pg },
        samples: t.samples.map((s) => ({ rps: Math.round(s.requestsPerSecond), p50Ms: round3(s.latencyMs.p50), p99Ms: round3(s.latencyMs.p99), non2xx: s.non2xx, errors: s.errors, timeouts: s.timeouts })),
      };
    });
    if (failures > 0) throw new Error(`${failures} requests failed (rate limited or errors): the numbers would measure something else\n${JSON.stringify(rows.map((r) => [r.case, r.note]))}`);
    rows.push({
      case: 'warm-up: timeline rebuilds from PostgreSQL',
      rate: Math.round((READERS + HEAVY_READERS) / rebuildSeconds),
      unit: 'reads/s',
      note: `${READERS + HEAVY_READERS} first reads (rebuild + store + token check), ${CONNECTIONS} connections; Redis +${((memAfter - memBefore) / 2 ** 20).toFixed(0)} MiB over the timed rounds, ${snapshotKeys} ranked snapshots kept`,
    });
    return {
      config: {
        readers: READERS,
        heavyReaders: HEAVY_READERS,
        authors: AUTHORS,
        follows: FOLLOWS,
        postsPerAuthor: POSTS_PER_AUTHOR,
        timelineEntries: FOLLOWS * POSTS_PER_AUTHOR,
        heavyAuthors: HEAVY_AUTHORS,
        heavyPostsPerAuthor: HEAVY_POSTS_PER_AUTHOR,
        heavyFollowerCount: HEAVY_FOLLOWER_COUNT,
        limit: LIMIT,
        connections: CONNECTIONS,
        seconds: SECONDS,
        warmupSeconds: WARMUP_SECONDS,
        rounds: ROUNDS,
        novaLogLevel: 'info -> /dev/null',
      },
      redis: { usedMemoryBeforeMiB: round3(memBefore / 2 ** 20), usedMemoryAfterMiB: round3(memAfter / 2 ** 20), snapshotKeys, rankedRequests },
      rows,
      medianLatencyMs: Object.fromEntries(targets.map((t) => [t.id, round3(median(t.samples.map(p50)))])),
    };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}

async function countKeys(redis, pattern) {
  // SCAN takes the full pattern (the client's prefix is not applied to it).
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}
