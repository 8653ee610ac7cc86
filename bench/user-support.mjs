// Shared by the user benchmarks (user-followers, user-follow): the user service running alone in this
// process (runServices, as `nova serve user` does) against a throwaway environment, access tokens from a
// local stand-in for auth (TestTokenIssuer from the built @nova/testing, its JWKS set as AUTH_JWKS_URL),
// a seeded graph, and the baseline's copy of the same tables.
//
// The baseline ("bare") is a plain Fastify app with a plain pg pool of the user service's size, running
// the same SQL statements, one round trip each, in the same order as the service's routes. Its tables are
// a copy of the service's (schema `bare`: same columns, constraints, indexes and foreign keys, same rows),
// so both sides do the same work on the same data without touching each other's rows, and the service's
// outbox relay never sees the baseline's events.
//
// Rate limits: the `api` preset allows 100 requests per minute per user, so the load is spread over many
// users (one token each, rotated per request); every request also has its own X-Forwarded-For address
// (TRUSTED_PROXIES=127.0.0.1). Every token is used once before timing (warmTokens), so the measured
// requests take the verifier's cached path, as a client reusing its access token does. Any non-2xx
// response is reported, and fails the benchmark.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { newId, runServices } from '@nova/platform';
import { createTestEnv, TestTokenIssuer } from '@nova/testing';
import { userService } from '@nova/user';
import { devNullLogger } from './auth-support.mjs';

// pg and Fastify exactly as the service resolves them (one pg module: the round-trip counter sees both).
const platformRequire = createRequire(import.meta.resolve('@nova/platform'));
const { default: pg } = await import(pathToFileURL(platformRequire.resolve('pg')).href);
const { default: Fastify } = await import(pathToFileURL(platformRequire.resolve('fastify')).href);

/** The user service's pool size (SERVICES.user.poolMax): the baseline gets as many connections. */
export const POOL_MAX = 6;
const STATEMENT_TIMEOUT_MS = 30_000;

/** Starts the user service with production-like settings (relay polling every 200 ms, logger `info` to /dev/null). */
export async function startUserService({ log }) {
  const env = await createTestEnv();
  const issuer = await TestTokenIssuer.start({ issuer: 'nova-auth', audience: 'nova' });
  const sink = devNullLogger('info', 'nova');
  let platform;
  try {
    log(`starting the user service in database ${new URL(env.databaseUrl).pathname.slice(1)}`);
    platform = await runServices({
      services: [userService],
      env: env.env({ AUTH_JWKS_URL: issuer.jwksUrl, TRUSTED_PROXIES: '127.0.0.1', OUTBOX_POLL_INTERVAL_MS: '200' }),
      logger: sink.logger,
    });
  } catch (err) {
    await issuer.close().catch(() => undefined);
    await env.cleanup().catch(() => undefined);
    sink.close();
    throw err;
  }
  const pool = new pg.Pool({ connectionString: env.databaseUrl, max: POOL_MAX, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000, application_name: 'bench-bare', statement_timeout: STATEMENT_TIMEOUT_MS });
  return {
    env,
    issuer,
    platform,
    pool,
    url: `http://127.0.0.1:${platform.httpPort}`,
    async stop() {
      try {
        await platform.stop();
        await pool.end();
        await issuer.close();
      } finally {
        // The database goes before the log sink: a connection still open when it is dropped logs its end.
        await env.cleanup();
        sink.close();
        log('user service stopped, database, Redis keys and streams deleted');
      }
    },
  };
}

/**
 * Seeds `users` and its copy `bare`: a public `star` followed by `followers` people (one follow per second
 * back from now, so the order is known), and `targets` further public profiles nobody follows. Returns
 * the ids and one access token per follower.
 */
export async function seedGraph(svc, { followers, targets = 0, log }) {
  const star = newId();
  const people = Array.from({ length: followers }, () => newId());
  const others = Array.from({ length: targets }, () => newId());
  const all = [star, ...people, ...others];
  const q = (text, values) => svc.pool.query(text, values);
  // Counters are right at insert: no UPDATE leaves dead rows in one copy that the other lacks (the
  // planner would then choose differently for the two).
  await q(
    `INSERT INTO users.profiles (id, username, username_lower, display_name, bio, follower_count, following_count)
     SELECT id, 'u' || n, 'u' || n, 'Person ' || n, 'Bio of person ' || n,
            CASE WHEN n = 1 THEN $2::int ELSE 0 END, CASE WHEN n BETWEEN 2 AND $2::int + 1 THEN 1 ELSE 0 END
     FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n)`,
    [all, followers],
  );
  await q(
    `INSERT INTO users.follows (follower_id, followee_id, created_at)
     SELECT id, $2::uuid, now() - n * interval '1 second' FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n)`,
    [people, star],
  );

  // The baseline's tables: LIKE ... INCLUDING ALL copies columns, defaults, CHECKs and indexes; the
  // foreign keys (checked on every follow insert) are added like the migration declares them.
  await q('CREATE SCHEMA bare');
  for (const t of ['profiles', 'follows', 'follow_requests', 'blocks', 'mutes', 'outbox']) {
    await q(`CREATE TABLE bare.${t} (LIKE users.${t} INCLUDING ALL)`);
  }
  for (const [t, cols] of [
    ['follows', ['follower_id', 'followee_id']],
    ['follow_requests', ['requester_id', 'target_id']],
    ['blocks', ['blocker_id', 'blocked_id']],
    ['mutes', ['muter_id', 'muted_id']],
  ]) {
    for (const c of cols) await q(`ALTER TABLE bare.${t} ADD FOREIGN KEY (${c}) REFERENCES bare.profiles (id) ON DELETE RESTRICT`);
  }
  await q('INSERT INTO bare.profiles SELECT * FROM users.profiles');
  await q('INSERT INTO bare.follows SELECT * FROM users.follows');
  await q('VACUUM ANALYZE users.profiles, users.follows, users.blocks, users.follow_requests, bare.profiles, bare.follows, bare.blocks, bare.follow_requests');

  log(`seeded ${all.length} profiles and ${followers} follows of one account (twice: users and bare); minting ${followers} tokens`);
  const tokens = [];
  for (const id of people) tokens.push(await svc.issuer.sign({ sub: id }));
  return { star, people, others, tokens };
}

/**
 * Counts the PostgreSQL round trips (pg Client#query calls) of one request, minus what the outbox relay
 * does meanwhile on the same pool: a transaction is the relay's when one of its statements claims outbox
 * rows (SKIP LOCKED); outside transactions, its status and prune queries read `published_at`, and a
 * COMMIT of a transaction begun before counting started is not counted either.
 */
export async function roundTrips(fn) {
  const proto = pg.Client.prototype;
  const original = proto.query;
  const open = new Map();
  const counted = [];
  const isRelay = (text) => /SKIP LOCKED/i.test(text) || (/outbox/i.test(text) && /published_at/i.test(text));
  proto.query = function (config, values, callback) {
    const text = (typeof config === 'string' ? config : config?.text ?? '').replace(/\s+/g, ' ').trim();
    const inTx = open.get(this);
    if (/^begin\b/i.test(text)) open.set(this, [text]);
    else if (inTx) {
      inTx.push(text);
      if (/^(commit|rollback)\b/i.test(text)) {
        open.delete(this);
        if (!inTx.some(isRelay)) counted.push(...inTx);
      }
    } else if (!isRelay(text) && !/^(commit|rollback)\b/i.test(text)) counted.push(text); // (the end of a transaction begun before counting)
    return original.call(this, config, values, callback);
  };
  try {
    await fn();
    // Let a transaction still closing (the reply may precede COMMIT's callback) finish.
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    proto.query = original;
  }
  return counted;
}

/**
 * Statements in a comparable form: case, quoting, schema names, parameter numbers and spacing removed.
 * The baseline's SQL is written to match the service's statement for statement, so a change to the
 * service's queries shows up as a difference (reported with the results).
 */
export function sqlShape(statements) {
  return statements.map((t) =>
    t
      .toLowerCase()
      .replace(/"/g, '')
      .replace(/\b(users|bare)\./g, '')
      .replace(/\$\d+/g, '$')
      .replace(/\s+/g, ' ')
      .replace(/\( /g, '(')
      .replace(/ \)/g, ')')
      .trim(),
  );
}

/** The statements whose shapes differ between two lists of the same length ([] when none do). */
export function sqlDifferences(nova, bare) {
  const [a, b] = [sqlShape(nova), sqlShape(bare)];
  return a.flatMap((s, i) => (s === b[i] ? [] : [{ nova: s, bare: b[i] }]));
}

/** A plain Fastify app (no logger) on 127.0.0.1; `register(app, pool)` adds the routes. */
export async function startBare(pool, register) {
  const app = Fastify({ logger: false });
  register(app, pool);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { url: `http://127.0.0.1:${app.server.address().port}`, close: () => app.close() };
}

/**
 * The caller of a baseline request: the token's `sub`, read without verifying it (the baseline measures
 * the database work, not token checks), as the service would after verification.
 */
export function callerOf(req) {
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (!token) return undefined;
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')).sub;
}

/** Runs a transaction on one pooled client: BEGIN, fn(client), COMMIT (ROLLBACK on error). */
export async function transaction(pool, fn) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** autocannon in a worker, sending scripted request sequences (see lib/scripted-load-worker.mjs). */
export class ScriptedLoad {
  #worker = new Worker(new URL('./lib/scripted-load-worker.mjs', import.meta.url));
  #pending;

  constructor() {
    this.#worker.on('message', (msg) => this.#settle(msg.error ? new Error(`autocannon: ${msg.error}`) : undefined, msg.result));
    this.#worker.on('error', (err) => this.#settle(err));
    this.#worker.on('exit', (code) => this.#settle(new Error(`load worker exited with code ${code}`)));
  }

  /** `{ url, connections, seconds, scripts }`; resolves like LoadGenerator#run, plus per-step latencies. */
  run(job) {
    if (this.#pending) return Promise.reject(new Error('ScriptedLoad runs one job at a time'));
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#worker.postMessage(job);
    });
  }

  async close() {
    this.#worker.removeAllListeners('exit');
    await this.#worker.terminate();
  }

  #settle(err, result) {
    const p = this.#pending;
    this.#pending = undefined;
    if (!p) return;
    if (err) p.reject(err);
    else p.resolve(result);
  }
}

/**
 * One authenticated request per token (GET the star's profile), so the service's token verifier has
 * checked every signature once before timing starts: a real client reuses its access token for its
 * lifetime, so the cached path is the one that matters. Costs each user 1 of its 100 requests a minute.
 */
export async function warmTokens(load, svc, star, tokens, log) {
  log(`first use of ${tokens.length} tokens (one RS256 signature check each)`);
  const scripts = tokens.map((t) => [{ method: 'GET', path: `/api/v1/users/${star}`, headers: { authorization: `Bearer ${t}` } }]);
  const res = await load.run({ url: svc.url, scripts, connections: 10, amount: tokens.length });
  if (res.ok !== tokens.length) throw new Error(`token warm-up: ${res.ok} of ${tokens.length} requests answered 2xx ${JSON.stringify(res.statusCodes)}`);
}

/**
 * Measures `targets` alternately (rotating order per round, as http-stack does) after a warm-up of each,
 * and sets `samples`, `rps`, `p50`, `p99` on every target. Ratios are then paired per round.
 */
export async function measure(load, targets, { connections, seconds, warmupSeconds, rounds, log }) {
  log(`warm-up: ${warmupSeconds} s per target`);
  for (const t of targets) await load.run({ url: t.url, scripts: t.scripts, connections, seconds: warmupSeconds });
  log(`${rounds} rounds x ${targets.length} targets x ${seconds} s, ${connections} connections`);
  for (const t of targets) t.samples = [];
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      const t = targets[(round + i) % targets.length];
      t.samples.push(await load.run({ url: t.url, scripts: t.scripts, connections, seconds }));
    }
    log(`round ${round + 1}/${rounds} done`);
  }
  const median = (v) => {
    const s = [...v].sort((a, b) => a - b);
    const mid = s.length >> 1;
    return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  };
  for (const t of targets) {
    t.rps = median(t.samples.map((s) => s.requestsPerSecond));
    t.p50 = median(t.samples.map((s) => s.latencyMs.p50));
    t.p99 = median(t.samples.map((s) => s.latencyMs.p99));
    t.steps = t.samples[0].steps.map((_, i) => ({ p50: median(t.samples.map((s) => s.steps[i].p50)), p99: median(t.samples.map((s) => s.steps[i].p99)) }));
  }
}
