// Follow/unfollow throughput: POST then DELETE /api/v1/users/:id/follow against the user service running
// in this process (see user-support.mjs), next to a bare Fastify app doing the same PostgreSQL round trips
// with the same SQL through plain pg, one transaction per request:
//   follow:   BEGIN; lock both profiles (FOR NO KEY UPDATE, id order); a block either way?; already
//             following?; drop a pending request; insert the follow; follower_count +1; following_count +1;
//             outbox FollowCreated; COMMIT
//   unfollow: BEGIN; lock both profiles; delete the follow; both counters -1; outbox FollowDeleted; drop a
//             pending request; COMMIT
// The service's outbox relay runs as in production (polling every 200 ms) and publishes its events to
// JetStream from the same process and pool; the baseline has no relay (its outbox rows stay put).
//
// Each connection follows then unfollows one (user, target) pair, then takes the next pair: users rotate
// over 2,000 accounts (one token each; the `api` limit is 100/min per user) and targets over 61 public
// accounts, so two requests in flight never lock the same profile (no contention measured here).
import { newId } from '@nova/platform';
import { formatRatio } from './lib/format.mjs';
import { badResponses, pairedRatio, round3, statusCodes } from './auth-support.mjs';
import { callerOf, measure, roundTrips, ScriptedLoad, seedGraph, sqlDifferences, startBare, startUserService, transaction, warmTokens } from './user-support.mjs';

export const description = 'POST+DELETE /api/v1/users/:id/follow (one transaction each) vs a bare Fastify route with the same PostgreSQL round trips: req/s, p50/p99, ratios';

const USERS = 2_000;
const TARGETS = 61;
const PAIRS = 60_000;
const CONNECTIONS = 10;
const SECONDS = 2;
const WARMUP_SECONDS = 2;
const ROUNDS = 5;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function outbox(db, type, follower, followee, data) {
  const envelope = {
    id: newId(),
    type,
    version: 1,
    source: 'user',
    subject: `follow/${follower}:${followee}`,
    occurred_at: new Date().toISOString(),
    correlation_id: null,
    data,
  };
  await db.query('INSERT INTO bare.outbox (id, subject, event_type, envelope) VALUES ($1, $2, $3, $4::jsonb)', [envelope.id, `bench.user.follow.${type === 'FollowCreated' ? 'created' : 'deleted'}`, type, JSON.stringify(envelope)]);
}

const lockPair = (db, a, b) => db.query('SELECT * FROM bare.profiles WHERE deleted_at IS NULL AND id IN ($1, $2) ORDER BY id FOR NO KEY UPDATE', [a, b]);
const bump = (db, column, id, delta) => db.query(`UPDATE bare.profiles SET ${column} = GREATEST(${column} + $1, 0) WHERE id IN ($2)`, [delta, id]);
const dropRequest = (db, a, b) => db.query('DELETE FROM bare.follow_requests WHERE requester_id = $1 AND target_id = $2 RETURNING created_at', [a, b]);

/** The baseline: the service's follow and unfollow transactions, minus the framework. */
function bareRoutes(app, pool) {
  app.post('/api/v1/users/:id/follow', async (req, reply) => {
    const me = callerOf(req);
    const them = req.params.id.toLowerCase();
    if (!me) return reply.code(401).send({ error: { code: 'UNAUTHENTICATED' } });
    if (!UUID.test(them) || me === them) return reply.code(400).send({ error: { code: 'BAD_REQUEST' } });
    const outcome = await transaction(pool, async (db) => {
      const pair = new Map((await lockPair(db, me, them)).rows.map((r) => [r.id, r]));
      const target = pair.get(them);
      const blocked = await db.query('SELECT 1 AS x FROM bare.blocks WHERE ((blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1))', [me, them]);
      if (!target || blocked.rows.length > 0 || !pair.get(me)) return { status: 404 };
      if ((await db.query('SELECT created_at FROM bare.follows WHERE follower_id = $1 AND followee_id = $2', [me, them])).rows.length > 0) return { status: 200, state: 'following' };
      if (target.is_private) throw new Error('the baseline follows public accounts only');
      await dropRequest(db, me, them);
      const inserted = await db.query('INSERT INTO bare.follows (follower_id, followee_id) VALUES ($1, $2) ON CONFLICT (follower_id, followee_id) DO NOTHING RETURNING created_at', [me, them]);
      if (inserted.rows.length === 0) return { status: 200, state: 'following' };
      await bump(db, 'follower_count', them, 1);
      await bump(db, 'following_count', me, 1);
      await outbox(db, 'FollowCreated', me, them, { follower_id: me, followee_id: them });
      return { status: 201, state: 'following' };
    });
    if (outcome.status === 404) return reply.code(404).send({ error: { code: 'NOT_FOUND' } });
    return reply.code(outcome.status).send({ state: outcome.state });
  });

  app.delete('/api/v1/users/:id/follow', async (req, reply) => {
    const me = callerOf(req);
    const them = req.params.id.toLowerCase();
    if (!me) return reply.code(401).send({ error: { code: 'UNAUTHENTICATED' } });
    if (!UUID.test(them) || me === them) return reply.code(400).send({ error: { code: 'BAD_REQUEST' } });
    await transaction(pool, async (db) => {
      await lockPair(db, me, them);
      const deleted = await db.query('DELETE FROM bare.follows WHERE follower_id = $1 AND followee_id = $2 RETURNING created_at', [me, them]);
      if (deleted.rows.length > 0) {
        await bump(db, 'follower_count', them, -1);
        await bump(db, 'following_count', me, -1);
        await outbox(db, 'FollowDeleted', me, them, { follower_id: me, followee_id: them, reason: 'unfollowed' });
      }
      if ((await dropRequest(db, me, them)).rows.length > 0) throw new Error('the baseline has no follow requests');
    });
    return reply.code(204).send();
  });
}

async function send(url, method, path, token) {
  const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '10.255.255.2' } });
  const text = await res.text();
  return { status: res.status, text };
}

export async function run({ log }) {
  const svc = await startUserService({ log });
  const cleanups = [() => svc.stop()];
  try {
    const { star, others, tokens } = await seedGraph(svc, { followers: USERS, targets: TARGETS, log });
    const bare = await startBare(svc.pool, bareRoutes);
    cleanups.push(() => bare.close());
    const load = new ScriptedLoad();
    cleanups.push(() => load.close());
    await warmTokens(load, svc, star, tokens, log);

    // Pair k: user k mod 2,000 follows target k mod 61, then unfollows (61 is prime: 122,000 distinct pairs).
    const auth = tokens.map((t) => ({ authorization: `Bearer ${t}` }));
    const scripts = Array.from({ length: PAIRS }, (_, k) => {
      const path = `/api/v1/users/${others[k % TARGETS]}/follow`;
      return [
        { method: 'POST', path, headers: auth[k % USERS] },
        { method: 'DELETE', path, headers: auth[k % USERS] },
      ];
    });
    const targets = [
      { id: 'nova', case: 'nova POST+DELETE /users/:id/follow', url: svc.url, scripts },
      { id: 'bare', case: 'bare, same round trips (pg transactions)', url: bare.url, scripts },
    ];

    // Both sides: 201 then 204, counters moved and back, and the same PostgreSQL round trips per request.
    const trips = {};
    const probeTarget = others[0];
    for (const t of targets) {
      const path = `/api/v1/users/${probeTarget}/follow`;
      let followed;
      let unfollowed;
      const followSql = await roundTrips(async () => {
        followed = await send(t.url, 'POST', path, tokens[USERS - 1]);
      });
      const schema = t.id === 'nova' ? 'users' : 'bare';
      const count = async () => (await svc.pool.query(`SELECT follower_count FROM ${schema}.profiles WHERE id = $1`, [probeTarget])).rows[0].follower_count;
      const afterFollow = await count();
      const unfollowSql = await roundTrips(async () => {
        unfollowed = await send(t.url, 'DELETE', path, tokens[USERS - 1]);
      });
      if (followed.status !== 201 || unfollowed.status !== 204 || afterFollow !== 1 || (await count()) !== 0) {
        throw new Error(`${t.case}: expected 201 then 204 and the follower count 1 then 0, got ${followed.status} ${followed.text} / ${unfollowed.status} ${unfollowed.text} / ${afterFollow}`);
      }
      trips[t.id] = { follow: followSql.length, unfollow: unfollowSql.length, sql: { follow: followSql, unfollow: unfollowSql } };
      log(`${t.id}: ${followSql.length} round trips to follow, ${unfollowSql.length} to unfollow`);
    }
    if (trips.nova.follow !== trips.bare.follow || trips.nova.unfollow !== trips.bare.unfollow) {
      throw new Error(`round trips differ: nova ${trips.nova.follow}/${trips.nova.unfollow}, bare ${trips.bare.follow}/${trips.bare.unfollow}\nnova: ${JSON.stringify(trips.nova.sql, null, 1)}\nbare: ${JSON.stringify(trips.bare.sql, null, 1)}`);
    }

    const sqlDiff = [...sqlDifferences(trips.nova.sql.follow, trips.bare.sql.follow), ...sqlDifferences(trips.nova.sql.unfollow, trips.bare.sql.unfollow)];
    if (sqlDiff.length > 0) log(`WARNING: the service's SQL is no longer the baseline's; update bareRoutes: ${JSON.stringify(sqlDiff, null, 1)}`);

    await measure(load, targets, { connections: CONNECTIONS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, rounds: ROUNDS, log });

    // Every follow was undone (but the last few in flight when a run stopped) and the counters agree.
    const { rows: check } = await svc.pool.query(
      `SELECT s, (SELECT count(*)::int FROM users.follows WHERE followee_id = ANY($1::uuid[])) AS nova_follows,
              (SELECT sum(follower_count)::int FROM users.profiles WHERE id = ANY($1::uuid[])) AS nova_counted,
              (SELECT count(*)::int FROM bare.follows WHERE followee_id = ANY($1::uuid[])) AS bare_follows,
              (SELECT sum(follower_count)::int FROM bare.profiles WHERE id = ANY($1::uuid[])) AS bare_counted,
              (SELECT count(*)::int FROM users.outbox) AS nova_events,
              (SELECT count(*)::int FROM users.outbox WHERE published_at IS NOT NULL) AS nova_published
       FROM (SELECT 1) AS one(s)`,
      [others],
    );
    const counts = check[0];
    if (counts.nova_follows !== counts.nova_counted || counts.bare_follows !== counts.bare_counted) throw new Error(`follower counts drifted: ${JSON.stringify(counts)}`);
    if (counts.nova_follows > CONNECTIONS * (ROUNDS + 1) * 2) throw new Error(`${counts.nova_follows} follows were left behind: unfollows did not run`);

    const ratio = (a, b) => ({
      rps: pairedRatio(a.samples, b.samples, (s) => s.requestsPerSecond),
      p50: pairedRatio(a.samples, b.samples, (s) => s.latencyMs.p50),
      p99: pairedRatio(a.samples, b.samples, (s) => s.latencyMs.p99),
    });
    const ratios = { nova: ratio(targets[0], targets[1]) };
    let failures = 0;
    const rows = targets.map((t) => {
      const notes = [];
      const r = ratios[t.id];
      if (r) notes.push(`ratio ${formatRatio(r.rps)} vs bare (p50 x${formatRatio(r.p50)}, p99 x${formatRatio(r.p99)})`);
      if (t.id === 'nova' && sqlDiff.length > 0) notes.push(`SQL differs from the baseline in ${sqlDiff.length} statement(s)`);
      notes.push(`follow p50 ${round3(t.steps[0].p50)} ms, unfollow p50 ${round3(t.steps[1].p50)} ms; ${trips[t.id].follow}+${trips[t.id].unfollow} PG round trips`);
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
        followsPerSecond: Math.round(t.rps / 2),
        steps: { follow: { p50Ms: round3(t.steps[0].p50), p99Ms: round3(t.steps[0].p99) }, unfollow: { p50Ms: round3(t.steps[1].p50), p99Ms: round3(t.steps[1].p99) } },
        roundTrips: { follow: trips[t.id].follow, unfollow: trips[t.id].unfollow },
        ...(r ? { ratios: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round3(v)])) } : {}),
        samples: t.samples.map((s) => ({ rps: Math.round(s.requestsPerSecond), p50Ms: round3(s.latencyMs.p50), p99Ms: round3(s.latencyMs.p99), non2xx: s.non2xx, errors: s.errors, timeouts: s.timeouts })),
      };
    });
    if (failures > 0) throw new Error(`${failures} requests failed (rate limited or errors): the numbers would measure something else\n${JSON.stringify(rows.map((r) => [r.case, r.note]))}`);
    return {
      config: { users: USERS, targets: TARGETS, connections: CONNECTIONS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, rounds: ROUNDS, poolMax: 6, relayPollMs: 200, novaLogLevel: 'info -> /dev/null' },
      outbox: { novaEvents: counts.nova_events, novaPublished: counts.nova_published },
      sql: { nova: trips.nova.sql, bare: trips.bare.sql, ...(sqlDiff.length > 0 ? { differences: sqlDiff } : {}) },
      rows,
    };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}
