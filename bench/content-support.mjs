// Shared by the content benchmarks (content-create-post, content-get-post): the content service and the
// user service it asks about people (over gRPC, as in production) running in this process (runServices,
// as `nova serve content user` does) against a throwaway environment, access tokens from a local
// stand-in for auth (TestTokenIssuer from the built @nova/testing, its JWKS set as AUTH_JWKS_URL), seeded
// profiles, and the baseline's copy of the tables both services touch.
//
// The baseline ("bare") is a plain Fastify app with a plain pg pool, running the same SQL statements, one
// round trip each, in the same order as the two services do for one request (the user service's
// statements included: in the baseline they run inline instead of behind a gRPC call). Its tables are a
// copy (schema `bare`), so both sides do the same work on the same data without touching each other's
// rows. Round trips are counted on both sides with user-support.mjs's counter (it patches the one pg
// module both services use) and must match.
//
// Rate limits: the `api` preset allows 100 requests per minute per user, so the load is spread over many
// users (one token each, rotated per request); every request also has its own X-Forwarded-For address
// (TRUSTED_PROXIES=127.0.0.1). Every token is used once before timing.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { newId, runServices } from '@nova/platform';
import { createTestEnv, TestTokenIssuer } from '@nova/testing';
import { contentService } from '@nova/content';
import { userService } from '@nova/user';
import { badResponses, devNullLogger, pairedRatio, round3, statusCodes } from './auth-support.mjs';
import { formatRatio } from './lib/format.mjs';
import { measure, roundTrips, sqlDifferences, sqlShape } from './user-support.mjs';

const platformRequire = createRequire(import.meta.resolve('@nova/platform'));
const { default: pg } = await import(pathToFileURL(platformRequire.resolve('pg')).href);

/** The content service's pool size (SERVICES.content.poolMax): the baseline gets as many connections. */
export const POOL_MAX = 8;
const STATEMENT_TIMEOUT_MS = 30_000;

/** Starts content + user with production-like settings (relay polling every 200 ms, logs to /dev/null). */
export async function startContent({ log }) {
  const env = await createTestEnv();
  const issuer = await TestTokenIssuer.start({ issuer: 'nova-auth', audience: 'nova' });
  const sink = devNullLogger('info', 'nova');
  let platform;
  try {
    log(`starting the content and user services in database ${new URL(env.databaseUrl).pathname.slice(1)}`);
    platform = await runServices({
      services: [contentService, userService],
      // Auth is asked only for an owner's email, which nothing here needs: nothing listens there.
      env: env.env({ AUTH_JWKS_URL: issuer.jwksUrl, GRPC_ADDR_AUTH: '127.0.0.1:9', TRUSTED_PROXIES: '127.0.0.1', OUTBOX_POLL_INTERVAL_MS: '200' }),
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
        await env.cleanup();
        sink.close();
        log('services stopped, database, Redis keys and streams deleted');
      }
    },
  };
}

/**
 * Seeds `users` profiles (public) and their copy under `bare`, plus bare copies of the content tables
 * (LIKE ... INCLUDING ALL, foreign keys as the migration declares them). Returns the ids and one token each.
 */
export async function seedUsers(svc, { users, log }) {
  const ids = Array.from({ length: users }, () => newId());
  const q = (text, values) => svc.pool.query(text, values);
  await q(
    `INSERT INTO users.profiles (id, username, username_lower, display_name)
     SELECT id, 'u' || n, 'u' || n, 'Person ' || n FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n)`,
    [ids],
  );
  await q('CREATE SCHEMA bare');
  for (const t of ['profiles', 'follows', 'blocks']) await q(`CREATE TABLE bare.${t} (LIKE users.${t} INCLUDING ALL)`);
  await q('INSERT INTO bare.profiles SELECT * FROM users.profiles');
  for (const t of ['posts', 'post_hashtags', 'post_mentions', 'likes', 'bookmarks', 'reposts', 'outbox']) await q(`CREATE TABLE bare.${t} (LIKE content.${t} INCLUDING ALL)`);
  for (const [t, c] of [['posts', 'reply_to_id'], ['posts', 'quote_of_id'], ['post_hashtags', 'post_id'], ['post_mentions', 'post_id'], ['likes', 'post_id'], ['bookmarks', 'post_id'], ['reposts', 'post_id']]) {
    await q(`ALTER TABLE bare.${t} ADD FOREIGN KEY (${c}) REFERENCES bare.posts (id) ON DELETE RESTRICT`);
  }
  log(`seeded ${users} profiles (users and bare); minting ${users} tokens`);
  const tokens = [];
  for (const id of ids) tokens.push(await svc.issuer.sign({ sub: id }));
  return { ids, tokens };
}

/** One authenticated request per token (GET a profile), so every signature is checked once before timing. */
export async function warmTokens(load, svc, someone, tokens, log) {
  log(`first use of ${tokens.length} tokens (one RS256 signature check each)`);
  const scripts = tokens.map((t, i) => [{ method: 'GET', path: `/api/v1/users/${someone}`, headers: { authorization: `Bearer ${t}`, 'x-forwarded-for': ip(i) } }]);
  const res = await load.run({ url: svc.url, scripts, connections: 10, amount: tokens.length });
  if (res.ok !== tokens.length) throw new Error(`token warm-up: ${res.ok} of ${tokens.length} requests answered 2xx ${JSON.stringify(res.statusCodes)}`);
}

/** A distinct client address per request index (X-Forwarded-For through the trusted local proxy). */
export function ip(i) {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

/**
 * The shared run of a content benchmark: round trips of one request counted on both sides (must match;
 * a statement-by-statement SQL difference is warned about and noted), then `measure` (user-support.mjs:
 * alternating paired rounds), then rows with ratios nova/bare. `probe(target)` sends the one counted
 * request and throws unless it succeeded.
 */
export async function compareTargets({ log, load, targets, probe, measureOpts, stepName }) {
  const trips = {};
  for (const t of targets) {
    const sql = await roundTrips(() => probe(t));
    trips[t.id] = sql;
    log(`${t.id}: ${sql.length} PostgreSQL round trips per ${stepName}`);
  }
  if (trips.nova.length !== trips.bare.length) {
    throw new Error(`round trips differ: nova ${trips.nova.length}, bare ${trips.bare.length}\nnova: ${JSON.stringify(trips.nova, null, 1)}\nbare: ${JSON.stringify(trips.bare, null, 1)}`);
  }
  // Compared as sorted lists: statements a request sends in parallel reach the pool in no fixed order.
  const sqlDiff = sqlDifferences(sqlShape(trips.nova.map(unschema)).sort(), sqlShape(trips.bare.map(unschema)).sort());
  if (sqlDiff.length > 0) log(`WARNING: the service's SQL is no longer the baseline's; update the bare routes: ${JSON.stringify(sqlDiff, null, 1)}`);

  await measure(load, targets, { ...measureOpts, log });

  const ratio = {
    rps: pairedRatio(targets[0].samples, targets[1].samples, (s) => s.requestsPerSecond),
    p50: pairedRatio(targets[0].samples, targets[1].samples, (s) => s.latencyMs.p50),
    p99: pairedRatio(targets[0].samples, targets[1].samples, (s) => s.latencyMs.p99),
  };
  let failures = 0;
  const rows = targets.map((t) => {
    const notes = [];
    if (t.id === 'nova') notes.push(`ratio ${formatRatio(ratio.rps)} vs bare (p50 x${formatRatio(ratio.p50)}, p99 x${formatRatio(ratio.p99)})`);
    if (t.id === 'nova' && sqlDiff.length > 0) notes.push(`SQL differs from the baseline in ${sqlDiff.length} statement(s)`);
    notes.push(`${trips[t.id].length} PG round trips`);
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
      roundTrips: trips[t.id].length,
      ...(t.id === 'nova' ? { ratios: Object.fromEntries(Object.entries(ratio).map(([k, v]) => [k, round3(v)])) } : {}),
      samples: t.samples.map((s) => ({ rps: Math.round(s.requestsPerSecond), p50Ms: round3(s.latencyMs.p50), p99Ms: round3(s.latencyMs.p99), non2xx: s.non2xx, errors: s.errors, timeouts: s.timeouts })),
    };
  });
  if (failures > 0) throw new Error(`${failures} requests failed (rate limited or errors): the numbers would measure something else\n${JSON.stringify(rows.map((r) => [r.case, r.note]))}`);
  return { rows, sql: { nova: trips.nova, bare: trips.bare, ...(sqlDiff.length > 0 ? { differences: sqlDiff } : {}) } };
}

/** A statement without its schema names (the services' `content`/`users` are the baseline's `bare`). */
function unschema(text) {
  return text.replace(/"?\b(content|users|bare)"?\./g, '');
}

/** The outbox row the platform's Outbox#add writes, in the baseline's table. */
export async function bareOutbox(db, { type, aggregate, action, entityId, data }) {
  const envelope = { id: newId(), type, version: 1, source: 'content', subject: `${aggregate}/${entityId}`, occurred_at: new Date().toISOString(), correlation_id: null, data };
  await db.query('INSERT INTO bare.outbox (id, subject, event_type, envelope) VALUES ($1, $2, $3, $4::jsonb)', [envelope.id, `bench.content.${aggregate}.${action}`, type, JSON.stringify(envelope)]);
}
