// A followers page: GET /api/v1/users/:id/followers of an account with 2,000 followers, read by a
// signed-in viewer, against the user service running in this process (see user-support.mjs), next to a
// bare Fastify route doing the same PostgreSQL round trips with the same SQL through plain pg:
//   1. the profile (live),             SELECT * FROM profiles WHERE deleted_at IS NULL AND id = $1
//   2. a block either way?             SELECT 1 FROM blocks WHERE (blocker, blocked) = (a, b) OR (b, a)
//   3. the page (limit + 1 rows),      follows ⋈ profiles, live, blocks with the viewer left out, keyset
// (a public account: no follower check). Two pages: the first (no cursor) and a deep one (a cursor after
// the 1,900th follower), 20 profiles each, which cost the same with keyset paging.
//
// Viewers rotate over the 2,000 followers (one token each) so the `api` limit (100/min per user) never
// refuses; the round trips of one request are counted on both sides before timing, and must match.
import { encodeCursor } from '@nova/platform';
import { formatRatio } from './lib/format.mjs';
import { badResponses, pairedRatio, round3, statusCodes } from './auth-support.mjs';
import { callerOf, measure, roundTrips, ScriptedLoad, seedGraph, sqlDifferences, startBare, startUserService, warmTokens } from './user-support.mjs';

export const description = 'GET /api/v1/users/:id/followers (2,000 followers; first and deep page) vs a bare Fastify route with the same 3 PostgreSQL round trips: req/s, p50/p99, ratios';

const FOLLOWERS = 2_000;
const LIMIT = 20;
const DEEP = 1_900;
const CONNECTIONS = 10;
const SECONDS = 1;
const WARMUP_SECONDS = 1;
const ROUNDS = 5;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const POSITION = `to_char(f.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** The baseline: what the service's route does, minus the framework (token checked by signature-less decode). */
function bareRoutes(app, pool) {
  app.get('/api/v1/users/:id/followers', async (req, reply) => {
    const viewer = callerOf(req);
    const id = req.params.id.toLowerCase();
    const limit = req.query.limit === undefined ? 20 : Number(req.query.limit);
    if (!UUID.test(id) || !Number.isInteger(limit) || limit < 1 || limit > 100) return reply.code(400).send({ error: { code: 'VALIDATION_FAILED' } });
    const after = req.query.cursor === undefined ? undefined : JSON.parse(Buffer.from(req.query.cursor, 'base64url').toString('utf8'));

    const profile = (await pool.query('SELECT * FROM bare.profiles WHERE deleted_at IS NULL AND id = $1', [id])).rows[0];
    if (!profile) return reply.code(404).send({ error: { code: 'NOT_FOUND' } });
    if (viewer && viewer !== id) {
      const blocked = await pool.query('SELECT 1 AS x FROM bare.blocks WHERE ((blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1))', [viewer, id]);
      if (blocked.rows.length > 0) return reply.code(404).send({ error: { code: 'NOT_FOUND' } });
    }
    if (profile.is_private && viewer !== id) {
      const follows = await pool.query('SELECT created_at FROM bare.follows WHERE follower_id = $1 AND followee_id = $2', [viewer, id]);
      if (follows.rows.length === 0) return reply.code(403).send({ error: { code: 'FORBIDDEN' } });
    }
    const values = [id];
    const param = (v) => `$${values.push(v)}`;
    let where = '';
    if (viewer) {
      where += ` AND NOT EXISTS (SELECT 1 AS x FROM bare.blocks AS b WHERE b.blocker_id = ${param(viewer)} AND b.blocked_id = p.id)`;
      where += ` AND NOT EXISTS (SELECT 1 AS x FROM bare.blocks AS b WHERE b.blocker_id = p.id AND b.blocked_id = ${param(viewer)})`;
    }
    if (after) where += ` AND (f.created_at <= ${param(after[0])}::timestamptz AND (f.created_at < ${param(after[0])}::timestamptz OR f.follower_id > ${param(after[1])}))`;
    const { rows } = await pool.query(
      `SELECT p.*, f.created_at AS since, ${POSITION} AS position_at
       FROM bare.follows AS f INNER JOIN bare.profiles AS p ON p.id = f.follower_id
       WHERE f.followee_id = $1 AND p.deleted_at IS NULL${where}
       ORDER BY f.created_at DESC, f.follower_id ASC LIMIT ${param(limit + 1)}`,
      values,
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      users: page.map((p) => ({
        id: p.id,
        username: p.username,
        display_name: p.display_name,
        bio: p.bio,
        avatar_media_id: p.avatar_media_id,
        cover_media_id: p.cover_media_id,
        location: p.location,
        website: p.website,
        is_private: p.is_private,
        follower_count: p.follower_count,
        following_count: p.following_count,
        post_count: p.post_count,
        created_at: p.created_at.toISOString(),
        followed_at: p.since.toISOString(),
      })),
      next_cursor: rows.length > limit && last ? Buffer.from(JSON.stringify([last.position_at, last.id])).toString('base64url') : null,
    };
  });
}

async function probe(target, token) {
  const res = await fetch(`${target.url}${target.path}`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '10.255.255.1' } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${target.case}: expected 200, got ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

export async function run({ log }) {
  const svc = await startUserService({ log });
  const cleanups = [() => svc.stop()];
  try {
    const { star, tokens, people } = await seedGraph(svc, { followers: FOLLOWERS, log });
    const bare = await startBare(svc.pool, bareRoutes);
    cleanups.push(() => bare.close());
    const load = new ScriptedLoad();
    cleanups.push(() => load.close());
    await warmTokens(load, svc, star, tokens, log);

    const deepRow = (
      await svc.pool.query(`SELECT ${POSITION} AS at, f.follower_id FROM users.follows f WHERE f.followee_id = $1 ORDER BY f.created_at DESC, f.follower_id ASC OFFSET $2 LIMIT 1`, [star, DEEP - 1])
    ).rows[0];
    const deepCursor = encodeCursor([deepRow.at, deepRow.follower_id]);
    const first = `/api/v1/users/${star}/followers?limit=${LIMIT}`;
    const deep = `${first}&cursor=${deepCursor}`;
    const scripts = (path) => tokens.map((token) => [{ method: 'GET', path, headers: { authorization: `Bearer ${token}` } }]);
    const targets = [
      { id: 'nova-first', case: 'nova GET /users/:id/followers (first page)', url: svc.url, path: first },
      { id: 'bare-first', case: 'bare, same 3 round trips (first page)', url: bare.url, path: first },
      { id: 'nova-deep', case: `nova, page after ${DEEP.toLocaleString('en-US')} (cursor)`, url: svc.url, path: deep },
      { id: 'bare-deep', case: `bare, page after ${DEEP.toLocaleString('en-US')} (cursor)`, url: bare.url, path: deep },
    ].map((t) => ({ ...t, scripts: scripts(t.path) }));

    // Same answer and the same number of PostgreSQL round trips on both sides.
    const trips = {};
    for (const t of targets) {
      let body;
      const sql = await roundTrips(async () => {
        body = await probe(t, tokens[0]);
      });
      trips[t.id] = sql.length;
      t.sql = sql;
      t.body = body;
      log(`${t.id}: ${sql.length} round trips`);
    }
    for (const [n, b] of [['nova-first', 'bare-first'], ['nova-deep', 'bare-deep']]) {
      const [x, y] = [targets.find((t) => t.id === n), targets.find((t) => t.id === b)];
      if (JSON.stringify(x.body) !== JSON.stringify(y.body)) throw new Error(`${n} and ${b} answer differently:\n${JSON.stringify(x.body).slice(0, 400)}\n${JSON.stringify(y.body).slice(0, 400)}`);
      if (trips[n] !== trips[b]) throw new Error(`${n} makes ${trips[n]} PostgreSQL round trips, ${b} ${trips[b]}: the baseline must do the same\n${JSON.stringify(x.sql, null, 1)}`);
      x.sqlDiff = sqlDifferences(x.sql, y.sql);
      if (x.sqlDiff.length > 0) log(`WARNING: ${n}'s SQL is no longer the baseline's; update bareRoutes: ${JSON.stringify(x.sqlDiff, null, 1)}`);
      if (x.body.users.length !== LIMIT || !people.includes(x.body.users[0].id)) throw new Error(`${n}: expected a page of ${LIMIT} followers`);
    }

    await measure(load, targets, { connections: CONNECTIONS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, rounds: ROUNDS, log });

    const ratio = (a, b) => ({
      rps: pairedRatio(a.samples, b.samples, (s) => s.requestsPerSecond),
      p50: pairedRatio(a.samples, b.samples, (s) => s.latencyMs.p50),
      p99: pairedRatio(a.samples, b.samples, (s) => s.latencyMs.p99),
    });
    const by = Object.fromEntries(targets.map((t) => [t.id, t]));
    const ratios = { 'nova-first': ratio(by['nova-first'], by['bare-first']), 'nova-deep': ratio(by['nova-deep'], by['bare-deep']) };
    let failures = 0;
    const rows = targets.map((t) => {
      const notes = [];
      const r = ratios[t.id];
      if (r) notes.push(`ratio ${formatRatio(r.rps)} vs bare (p50 x${formatRatio(r.p50)}, p99 x${formatRatio(r.p99)})`);
      notes.push(`${trips[t.id]} PG round trips`);
      if (t.sqlDiff?.length > 0) notes.push(`SQL differs from the baseline in ${t.sqlDiff.length} statement(s)`);
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
        path: t.path.replace(star, ':id').replace(deepCursor, '<cursor>'),
        roundTrips: trips[t.id],
        sql: t.sql,
        ...(t.sqlDiff?.length > 0 ? { sqlDifferences: t.sqlDiff } : {}),
        ...(r ? { ratios: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round3(v)])) } : {}),
        samples: t.samples.map((s) => ({ rps: Math.round(s.requestsPerSecond), p50Ms: round3(s.latencyMs.p50), p99Ms: round3(s.latencyMs.p99), non2xx: s.non2xx, errors: s.errors, timeouts: s.timeouts })),
      };
    });
    if (failures > 0) throw new Error(`${failures} requests failed (rate limited or errors): the numbers would measure something else\n${JSON.stringify(rows.map((r) => [r.case, r.note]))}`);
    return {
      config: { followers: FOLLOWERS, pageSize: LIMIT, deepAfter: DEEP, viewers: tokens.length, connections: CONNECTIONS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, rounds: ROUNDS, poolMax: 6, novaLogLevel: 'info -> /dev/null' },
      rows,
    };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}
