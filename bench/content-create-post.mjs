// Create-post throughput: POST /api/v1/posts (text only, public, no Idempotency-Key: one transaction of
// 4 round trips — BEGIN; insert the post; outbox PostCreated; COMMIT — then the post's hashtags, mentions
// and the author's like, repost and bookmark read back in parallel for the answer: 9) against the content service running
// in this process with the user service (see content-support.mjs), next to a bare Fastify route running
// the same statements in the same transaction through plain pg. Hashtag and mention extraction runs in
// the service (the text has neither, so no user-service call and no tag rows); the outbox relay runs as in
// production (polling every 200 ms) from the same process and pool; the baseline has none.
import { newId } from '@nova/platform';
import { callerOf, ScriptedLoad, startBare, transaction } from './user-support.mjs';
import { bareOutbox, compareTargets, seedUsers, startContent, warmTokens } from './content-support.mjs';

export const description = 'POST /api/v1/posts (one transaction) vs a bare Fastify route with the same PostgreSQL round trips: req/s, p50/p99, ratios';

const USERS = 2_000;
const SCRIPTS = 20_000;
const CONNECTIONS = 10;
const SECONDS = 2;
const WARMUP_SECONDS = 2;
const ROUNDS = 5;
const BODY = JSON.stringify({ text: 'A benchmark post, plain text without tags or mentions.', visibility: 'public' });

function postJson(p) {
  return {
    id: p.id,
    author_id: p.author_id,
    text: p.text,
    media_ids: p.media_ids,
    visibility: p.visibility,
    reply_to: p.reply_to_id,
    quote_of: p.quote_of_id,
    hashtags: [],
    mentions: [],
    like_count: p.like_count,
    comment_count: p.comment_count,
    repost_count: p.repost_count,
    bookmark_count: p.bookmark_count,
    quote_count: p.quote_count,
    liked: false,
    bookmarked: false,
    reposted: false,
    created_at: p.created_at.toISOString(),
    edited_at: null,
  };
}

/** The baseline: the service's create transaction, minus the framework. */
function bareRoutes(app, pool) {
  app.post('/api/v1/posts', async (req, reply) => {
    const me = callerOf(req);
    if (!me) return reply.code(401).send({ error: { code: 'UNAUTHENTICATED' } });
    const { text, visibility } = req.body;
    const post = await transaction(pool, async (db) => {
      const { rows } = await db.query(
        'insert into bare.posts (id, author_id, text, media_ids, visibility, reply_to_id, quote_of_id, idempotency_key) values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (author_id, idempotency_key) where idempotency_key is not null do nothing returning *',
        [newId(), me, text, [], visibility, null, null, null],
      );
      const p = rows[0];
      await bareOutbox(db, {
        type: 'PostCreated',
        aggregate: 'post',
        action: 'created',
        entityId: p.id,
        data: { post_id: p.id, author_id: me, visibility: p.visibility, hashtags: [], mentions: [], reply_to: null, quote_of: null, media_ids: p.media_ids, created_at: p.created_at.toISOString() },
      });
      return p;
    });
    // The answer is hydrated like any read of a post (5 reads in parallel).
    await Promise.all([
      pool.query('select post_id, tag from bare.post_hashtags where post_id in ($1) order by tag', [post.id]),
      pool.query('select post_id, user_id from bare.post_mentions where post_id in ($1) order by user_id', [post.id]),
      pool.query('select post_id from bare.likes where user_id = $1 and post_id in ($2)', [me, post.id]),
      pool.query('select post_id from bare.reposts where user_id = $1 and post_id in ($2)', [me, post.id]),
      pool.query('select post_id from bare.bookmarks where user_id = $1 and post_id in ($2)', [me, post.id]),
    ]);
    return reply.code(201).send(postJson(post));
  });
}

export async function run({ log }) {
  const svc = await startContent({ log });
  const cleanups = [() => svc.stop()];
  try {
    const { ids, tokens } = await seedUsers(svc, { users: USERS, log });
    const bare = await startBare(svc.pool, bareRoutes);
    cleanups.push(() => bare.close());
    const load = new ScriptedLoad();
    cleanups.push(() => load.close());
    await warmTokens(load, svc, ids[0], tokens, log);

    const headers = tokens.map((t) => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' }));
    const scripts = Array.from({ length: SCRIPTS }, (_, k) => [{ method: 'POST', path: '/api/v1/posts', headers: headers[k % USERS], body: BODY }]);
    const targets = [
      { id: 'nova', case: 'nova POST /api/v1/posts', url: svc.url, scripts },
      { id: 'bare', case: 'bare, same round trips (pg transaction)', url: bare.url, scripts },
    ];
    const probe = async (t) => {
      const res = await fetch(`${t.url}/api/v1/posts`, { method: 'POST', headers: { ...headers[USERS - 1], 'x-forwarded-for': '10.255.255.3' }, body: BODY });
      const text = await res.text();
      if (res.status !== 201) throw new Error(`${t.case}: expected 201, got ${res.status} ${text}`);
    };
    const result = await compareTargets({ log, load, targets, probe, stepName: 'create', measureOpts: { connections: CONNECTIONS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, rounds: ROUNDS } });
    const { rows: counts } = await svc.pool.query('SELECT (SELECT count(*)::int FROM content.posts) AS nova_posts, (SELECT count(*)::int FROM bare.posts) AS bare_posts, (SELECT count(*)::int FROM content.outbox WHERE event_type = $1) AS nova_events', ['PostCreated']);
    if (counts[0].nova_posts !== counts[0].nova_events) throw new Error(`posts and PostCreated events disagree: ${JSON.stringify(counts[0])}`);
    return { config: { users: USERS, connections: CONNECTIONS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, rounds: ROUNDS, relayPollMs: 200, novaLogLevel: 'info -> /dev/null' }, counts: counts[0], ...result };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}
