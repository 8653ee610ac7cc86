// Get-post throughput: GET /api/v1/posts/:id by signed-in viewers (public posts of 50 public authors the
// viewers do not follow) against the content service running in this process with the user service (see
// content-support.mjs), next to a bare Fastify route running the same 8 PostgreSQL statements through
// plain pg with the same concurrency: the post; the author's profile and a block either way (the user
// service's GetProfile and IsBlocked, in parallel); hashtags, mentions and the viewer's like, repost and
// bookmark (in parallel). The service's profile and block reads go over gRPC; the baseline's inline.
import { newId } from '@nova/platform';
import { callerOf, ScriptedLoad, startBare } from './user-support.mjs';
import { compareTargets, seedUsers, startContent, warmTokens } from './content-support.mjs';

export const description = 'GET /api/v1/posts/:id (visibility via the user service over gRPC) vs a bare Fastify route with the same PostgreSQL round trips: req/s, p50/p99, ratios';

const USERS = 2_000;
const AUTHORS = 50;
const POSTS = 1_000;
const CONNECTIONS = 10;
const SECONDS = 2;
const WARMUP_SECONDS = 2;
const ROUNDS = 5;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The baseline: the service's reads for one visible post, minus the framework and the gRPC hop. */
function bareRoutes(app, pool) {
  app.get('/api/v1/posts/:id', async (req, reply) => {
    const me = callerOf(req);
    const id = req.params.id.toLowerCase();
    if (!UUID.test(id)) return reply.code(400).send({ error: { code: 'VALIDATION_FAILED' } });
    const post = (await pool.query('select * from bare.posts where id = $1', [id])).rows[0];
    if (!post || post.deleted_at !== null) return reply.code(404).send({ error: { code: 'NOT_FOUND' } });
    if (post.author_id !== me) {
      if (post.visibility !== 'public') throw new Error('the baseline serves public posts only');
      const [profile, blocked] = await Promise.all([
        pool.query('select * from bare.profiles where deleted_at is null and id = $1', [post.author_id]),
        pool.query('select 1 as x from bare.blocks where ((blocker_id = $1 and blocked_id = $2) or (blocker_id = $3 and blocked_id = $4))', [me, post.author_id, post.author_id, me]),
      ]);
      if (profile.rows.length === 0 || blocked.rows.length > 0) return reply.code(404).send({ error: { code: 'NOT_FOUND' } });
      if (profile.rows[0].is_private) throw new Error('the baseline serves public accounts only');
    }
    const [tags, mentions, liked, reposted, bookmarked] = await Promise.all([
      pool.query('select post_id, tag from bare.post_hashtags where post_id in ($1) order by tag', [id]),
      pool.query('select post_id, user_id from bare.post_mentions where post_id in ($1) order by user_id', [id]),
      pool.query('select post_id from bare.likes where user_id = $1 and post_id in ($2)', [me, id]),
      pool.query('select post_id from bare.reposts where user_id = $1 and post_id in ($2)', [me, id]),
      pool.query('select post_id from bare.bookmarks where user_id = $1 and post_id in ($2)', [me, id]),
    ]);
    return {
      id: post.id,
      author_id: post.author_id,
      text: post.text,
      media_ids: post.media_ids,
      visibility: post.visibility,
      reply_to: post.reply_to_id,
      quote_of: post.quote_of_id,
      hashtags: tags.rows.map((r) => r.tag),
      mentions: mentions.rows.map((r) => r.user_id),
      like_count: post.like_count,
      comment_count: post.comment_count,
      repost_count: post.repost_count,
      bookmark_count: post.bookmark_count,
      quote_count: post.quote_count,
      liked: liked.rows.length > 0,
      bookmarked: bookmarked.rows.length > 0,
      reposted: reposted.rows.length > 0,
      created_at: post.created_at.toISOString(),
      edited_at: post.edited_at?.toISOString() ?? null,
    };
  });
}

export async function run({ log }) {
  const svc = await startContent({ log });
  const cleanups = [() => svc.stop()];
  try {
    const { ids, tokens } = await seedUsers(svc, { users: USERS + AUTHORS, log });
    const authors = ids.slice(USERS);
    const viewers = tokens.slice(0, USERS);
    const posts = Array.from({ length: POSTS }, () => newId());
    // Identical posts in both copies: one per id, authors round robin, a second apart.
    for (const schema of ['content', 'bare']) {
      await svc.pool.query(
        `INSERT INTO ${schema}.posts (id, author_id, text, visibility, created_at, updated_at)
         SELECT id, ($2::uuid[])[1 + (n - 1) % $3::int], 'Post number ' || n || ', plain text for the benchmark.', 'public',
                now() - n * interval '1 second', now() - n * interval '1 second'
         FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n)`,
        [posts, authors, AUTHORS],
      );
    }
    await svc.pool.query('VACUUM ANALYZE content.posts, bare.posts, users.profiles, bare.profiles, users.blocks, bare.blocks');
    log(`seeded ${POSTS} public posts by ${AUTHORS} authors (twice: content and bare)`);

    const bare = await startBare(svc.pool, bareRoutes);
    cleanups.push(() => bare.close());
    const load = new ScriptedLoad();
    cleanups.push(() => load.close());
    await warmTokens(load, svc, authors[0], viewers, log);

    // Request k: viewer k mod 2,000 reads post k mod 1,000 (both rotate; no viewer is an author).
    const auth = viewers.map((t) => ({ authorization: `Bearer ${t}` }));
    const scripts = Array.from({ length: 40_000 }, (_, k) => [{ method: 'GET', path: `/api/v1/posts/${posts[k % POSTS]}`, headers: auth[k % USERS] }]);
    const targets = [
      { id: 'nova', case: 'nova GET /api/v1/posts/:id', url: svc.url, scripts },
      { id: 'bare', case: 'bare, same round trips (pg)', url: bare.url, scripts },
    ];
    const probe = async (t) => {
      const res = await fetch(`${t.url}/api/v1/posts/${posts[0]}`, { headers: { ...auth[USERS - 1], 'x-forwarded-for': '10.255.255.4' } });
      const body = await res.json();
      if (res.status !== 200 || body.id !== posts[0]) throw new Error(`${t.case}: expected 200 and the post, got ${res.status} ${JSON.stringify(body)}`);
    };
    const result = await compareTargets({ log, load, targets, probe, stepName: 'read', measureOpts: { connections: CONNECTIONS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, rounds: ROUNDS } });
    return { config: { viewers: USERS, authors: AUTHORS, posts: POSTS, connections: CONNECTIONS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, rounds: ROUNDS, novaLogLevel: 'info -> /dev/null' }, ...result };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}
