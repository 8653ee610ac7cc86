// Fan-out on write: one author with 10,000 followers, every one an active reader (feed.readers seen now) whose
// timeline is built (the marker `.` put into `feed:tl:<id>` directly, pipelined), posts 5 times in a row
// through POST /api/v1/posts (10 times), against the feed, content and user services running in this process (see
// feed-support.mjs). For each post:
//   - the fan-out rate: timelines / (completed_at - started_at) of the FeedUpdated event the fan-out writes;
//   - end to end: from the HTTP response (and from content's created_at) until the last of a few watched
//     followers' timelines holds the post (ZSCORE polled every 2 ms; the watched include the follower with
//     the greatest id, whom the last batch writes, since followers are taken in id order), and until
//     FeedUpdated is in feed.outbox (polled every 5 ms);
//   - where that time goes: content's outbox relay (created_at -> published_at of PostCreated, polling every
//     OUTBOX_POLL_INTERVAL_MS = 200 ms when idle), delivery to the feed's consumer (-> started_at), the fan-out.
// p50 and max over the posts; the same again with another author of 1,000 followers (the first 1,000 of the
// same readers) for scale. One post per author before timing is not counted (script loading, JIT, first
// delivery). At the end every follower's timeline must hold every post (pipelined ZSCORE over all of them).
// Last, a burst: the 10k author posts 5 times at once. The fan-out consumer handles one event at a time per
// process, so the fifth post waits for the four before it: the span from the first fan-out's start to the
// last one's end is the fan-out throughput of one process, and what any other post waits behind it.
import { mintTokens, ids, percentile, round1, seedProfiles, startFeed, timelineKey } from './feed-support.mjs';

export const description = 'fan-out of a new post to 10,000 (and 1,000) active followers\' cached timelines: timelines/s, post -> last timeline and -> FeedUpdated, p50/max over 10 posts; a burst of 5';

const FOLLOWERS = 10_000;
const SMALL_FOLLOWERS = 1_000;
const POSTS = 10;
const BURST = 5;
const WATCH_POLL_MS = 2;
const OUTBOX_POLL_MS = 5;
const TIMEOUT_MS = 30_000;
/** Between posts: 300-500 ms, so the posts meet content's outbox relay (polling every 200 ms) at varied phases. */
const PAUSE_MS = 300;
const TTL_SECONDS = 7 * 86_400;

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function seed(svc, log) {
  const q = (text, values) => svc.pool.query(text, values);
  const followers = ids(FOLLOWERS);
  const [author, smallAuthor] = ids(2);
  await seedProfiles(svc.pool, [author, smallAuthor, ...followers]);
  await q(`INSERT INTO feed.follows (follower_id, followee_id, created_at) SELECT f, $2::uuid, now() - interval '30 days' FROM unnest($1::uuid[]) AS f`, [followers, author]);
  await q(`INSERT INTO feed.follows (follower_id, followee_id, created_at) SELECT f, $2::uuid, now() - interval '30 days' FROM unnest($1::uuid[]) AS f`, [followers.slice(0, SMALL_FOLLOWERS), smallAuthor]);
  await q('INSERT INTO feed.authors (id, follower_count) VALUES ($1, $2), ($3, $4)', [author, FOLLOWERS, smallAuthor, SMALL_FOLLOWERS]);
  await q('INSERT INTO feed.readers (user_id, last_seen_at) SELECT u, now() FROM unnest($1::uuid[]) AS u', [followers]);
  await q('VACUUM ANALYZE feed.follows, feed.authors, feed.readers, users.profiles');
  // Built, empty timelines: the marker at +inf, with the TTL a read would give them.
  for (let i = 0; i < followers.length; i += 1_000) {
    const pipeline = svc.redis.pipeline();
    for (const id of followers.slice(i, i + 1_000)) pipeline.zadd(timelineKey(id), '+inf', '.').expire(timelineKey(id), TTL_SECONDS);
    for (const [err] of await pipeline.exec()) if (err) throw err;
  }
  log(`seeded ${FOLLOWERS} active followers with built timelines, an author they all follow and one the first ${SMALL_FOLLOWERS} follow`);
  return { followers, author, smallAuthor };
}

/** Followers to watch: the greatest id (the last batch writes it), the least, the median, two others. */
function watchList(followerIds) {
  const sorted = [...followerIds].sort();
  return [...new Set([sorted.at(-1), sorted[0], sorted[sorted.length >> 1], sorted[Math.floor(sorted.length / 3)], sorted[Math.floor((2 * sorted.length) / 3)]])];
}

/** Posts once as `token`, then waits for the watched timelines and FeedUpdated; returns the timings. */
async function postAndWatch(svc, token, watch, n) {
  const sentAt = now();
  const res = await fetch(`${svc.url}/api/v1/posts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-forwarded-for': `10.253.0.${n}` },
    body: JSON.stringify({ text: `Fan-out benchmark post ${n}`, visibility: 'public' }),
  });
  const respondedAt = now();
  const body = await res.json();
  if (res.status !== 201) throw new Error(`POST /api/v1/posts: expected 201, got ${res.status} ${JSON.stringify(body)}`);
  const postId = body.id;

  const seen = new Map();
  let feedUpdated;
  let feedUpdatedSeenAt;
  const deadline = respondedAt + TIMEOUT_MS;
  const watchTimelines = async () => {
    while (seen.size < watch.length) {
      if (now() > deadline) throw new Error(`post ${postId}: ${watch.length - seen.size} of ${watch.length} watched timelines still lack it after ${TIMEOUT_MS} ms`);
      const pending = watch.filter((id) => !seen.has(id));
      const pipeline = svc.redis.pipeline();
      for (const id of pending) pipeline.zscore(timelineKey(id), postId);
      const results = await pipeline.exec();
      const at = now();
      results.forEach(([err, score], i) => {
        if (err) throw err;
        if (score !== null) seen.set(pending[i], at);
      });
      if (seen.size < watch.length) await sleep(WATCH_POLL_MS);
    }
  };
  const watchOutbox = async () => {
    while (!feedUpdated) {
      if (now() > deadline) throw new Error(`post ${postId}: no FeedUpdated after ${TIMEOUT_MS} ms`);
      const { rows } = await svc.pool.query(`SELECT envelope FROM feed.outbox WHERE event_type = 'FeedUpdated' AND envelope->'data'->>'post_id' = $1`, [postId]);
      if (rows.length > 0) {
        feedUpdatedSeenAt = now();
        feedUpdated = rows[0].envelope.data;
      } else await sleep(OUTBOX_POLL_MS);
    }
  };
  await Promise.all([watchTimelines(), watchOutbox()]);

  const published = (await svc.pool.query(`SELECT published_at FROM content.outbox WHERE event_type = 'PostCreated' AND envelope->'data'->>'post_id' = $1`, [postId])).rows[0]?.published_at;
  const createdAt = Date.parse(body.created_at);
  const startedAt = Date.parse(feedUpdated.started_at);
  const completedAt = Date.parse(feedUpdated.completed_at);
  const lastTimelineAt = Math.max(...seen.values());
  const fanoutMs = completedAt - startedAt;
  return {
    postId,
    delivery: feedUpdated.delivery,
    timelines: feedUpdated.timelines,
    httpMs: respondedAt - sentAt,
    fanoutMs,
    insertsPerSecond: feedUpdated.timelines / (Math.max(fanoutMs, 1) / 1000),
    responseToLastTimelineMs: lastTimelineAt - respondedAt,
    createdToLastTimelineMs: lastTimelineAt - createdAt,
    responseToFeedUpdatedMs: feedUpdatedSeenAt - respondedAt,
    createdToFeedUpdatedMs: feedUpdatedSeenAt - createdAt,
    lastTimelineAfterCompletedMs: lastTimelineAt - completedAt,
    relayMs: published ? published.getTime() - createdAt : null,
    deliveryMs: published ? startedAt - published.getTime() : null,
  };
}

/** How many of `followerIds`' timelines hold each post (pipelined ZSCORE, 1,000 a round trip). */
async function holding(svc, followerIds, postIds) {
  const counts = {};
  for (const postId of postIds) {
    let n = 0;
    for (let i = 0; i < followerIds.length; i += 1_000) {
      const pipeline = svc.redis.pipeline();
      for (const id of followerIds.slice(i, i + 1_000)) pipeline.zscore(timelineKey(id), postId);
      for (const [err, score] of await pipeline.exec()) {
        if (err) throw err;
        if (score !== null) n++;
      }
    }
    counts[postId] = n;
  }
  return counts;
}

async function runAuthor(svc, { token, followerIds, label, log, n0 }) {
  const watch = watchList(followerIds);
  const warm = await postAndWatch(svc, token, watch, n0);
  log(`${label}: warm-up post fanned out to ${warm.timelines} timelines in ${warm.fanoutMs} ms (not counted)`);
  const results = [];
  for (let i = 0; i < POSTS; i++) {
    await sleep(PAUSE_MS + Math.random() * 200);
    const r = await postAndWatch(svc, token, watch, n0 + 1 + i);
    log(`${label}: post ${i + 1}/${POSTS}: ${r.timelines} timelines in ${r.fanoutMs} ms (${Math.round(r.insertsPerSecond)}/s); response -> last watched timeline ${r.responseToLastTimelineMs.toFixed(1)} ms, -> FeedUpdated ${r.responseToFeedUpdatedMs.toFixed(1)} ms; relay ${r.relayMs} ms, delivery ${r.deliveryMs} ms`);
    if (r.delivery !== 'fanout' || r.timelines !== followerIds.length) throw new Error(`${label}: FeedUpdated says ${r.delivery} to ${r.timelines} timelines, expected fanout to ${followerIds.length}`);
    results.push(r);
  }
  const counts = await holding(svc, followerIds, [warm.postId, ...results.map((r) => r.postId)]);
  const short = Object.entries(counts).filter(([, c]) => c !== followerIds.length);
  if (short.length > 0) throw new Error(`${label}: timelines missing posts: ${JSON.stringify(short)} of ${followerIds.length}`);
  log(`${label}: verified: all ${followerIds.length} timelines hold all ${POSTS + 1} posts`);
  return results;
}

/** `BURST` posts at once by `token`; waits for all their FeedUpdated events and the greatest-id follower's timeline. */
async function burst(svc, token, followerIds, n0) {
  const last = [...followerIds].sort().at(-1);
  const sentAt = now();
  const posted = await Promise.all(
    Array.from({ length: BURST }, async (_, i) => {
      const res = await fetch(`${svc.url}/api/v1/posts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-forwarded-for': `10.253.1.${n0 + i}` },
        body: JSON.stringify({ text: `Fan-out burst post ${i + 1}`, visibility: 'public' }),
      });
      const body = await res.json();
      if (res.status !== 201) throw new Error(`POST /api/v1/posts: expected 201, got ${res.status} ${JSON.stringify(body)}`);
      return body.id;
    }),
  );
  const respondedAt = now();
  const deadline = respondedAt + TIMEOUT_MS;
  let events = [];
  let visibleAt;
  while (events.length < BURST || visibleAt === undefined) {
    if (now() > deadline) throw new Error(`burst: ${events.length} of ${BURST} FeedUpdated after ${TIMEOUT_MS} ms`);
    if (visibleAt === undefined) {
      const pipeline = svc.redis.pipeline();
      for (const id of posted) pipeline.zscore(timelineKey(last), id);
      if ((await pipeline.exec()).every(([err, score]) => !err && score !== null)) visibleAt = now();
    }
    if (events.length < BURST) {
      const { rows } = await svc.pool.query(`SELECT envelope FROM feed.outbox WHERE event_type = 'FeedUpdated' AND envelope->'data'->>'post_id' = ANY($1::text[])`, [posted]);
      events = rows.map((r) => r.envelope.data);
    }
    await sleep(WATCH_POLL_MS);
  }
  const counts = await holding(svc, followerIds, posted);
  const short = Object.entries(counts).filter(([, c]) => c !== followerIds.length);
  if (short.length > 0) throw new Error(`burst: timelines missing posts: ${JSON.stringify(short)} of ${followerIds.length}`);
  const starts = events.map((e) => Date.parse(e.started_at));
  const ends = events.map((e) => Date.parse(e.completed_at));
  const spanMs = Math.max(...ends) - Math.min(...starts);
  const timelines = events.reduce((n, e) => n + e.timelines, 0);
  return {
    posts: BURST,
    timelines,
    postMs: respondedAt - sentAt,
    fanoutSpanMs: spanMs,
    fanoutBusyMs: events.reduce((n, e) => n + Date.parse(e.completed_at) - Date.parse(e.started_at), 0),
    timelinesPerSecond: timelines / (Math.max(spanMs, 1) / 1000),
    responsesToAllVisibleMs: visibleAt - respondedAt,
  };
}

function rowsFor(label, followers, results) {
  const p50 = (f) => percentile(results.map(f), 50);
  const max = (f) => Math.max(...results.map(f));
  const min = (f) => Math.min(...results.map(f));
  const ms = (v) => `${round1(v)} ms`;
  return [
    {
      case: `${label}: fan-out (FeedUpdated started -> completed)`,
      rate: Math.round(p50((r) => r.insertsPerSecond)),
      unit: 'timelines/s',
      p50Ms: round1(p50((r) => r.fanoutMs)),
      maxMs: max((r) => r.fanoutMs),
      note: `p50 over ${results.length} posts; slowest ${ms(max((r) => r.fanoutMs))} (${Math.round(min((r) => r.insertsPerSecond)).toLocaleString('en-US')} timelines/s); ${followers.toLocaleString('en-US')} timelines each, all verified`,
    },
    {
      case: `${label}: post response -> last timeline holds it`,
      p50Ms: round1(p50((r) => r.responseToLastTimelineMs)),
      maxMs: round1(max((r) => r.responseToLastTimelineMs)),
      note: `max ${ms(max((r) => r.responseToLastTimelineMs))}; from created_at p50 ${ms(p50((r) => r.createdToLastTimelineMs))}; of which relay p50 ${ms(p50((r) => r.relayMs))}, delivery to the consumer p50 ${ms(p50((r) => r.deliveryMs))}, fan-out p50 ${ms(p50((r) => r.fanoutMs))}`,
    },
    {
      case: `${label}: post response -> FeedUpdated in the outbox`,
      p50Ms: round1(p50((r) => r.responseToFeedUpdatedMs)),
      maxMs: round1(max((r) => r.responseToFeedUpdatedMs)),
      note: `max ${ms(max((r) => r.responseToFeedUpdatedMs))}; from created_at p50 ${ms(p50((r) => r.createdToFeedUpdatedMs))}; last timeline seen p50 ${ms(p50((r) => r.lastTimelineAfterCompletedMs))} after completed_at`,
    },
  ];
}

export async function run({ log }) {
  const svc = await startFeed({ log });
  try {
    const { followers, author, smallAuthor } = await seed(svc, log);
    const [token, smallToken] = await mintTokens(svc.issuer, [author, smallAuthor]);
    const big = await runAuthor(svc, { token, followerIds: followers, label: '10k followers', log, n0: 1 });
    const small = await runAuthor(svc, { token: smallToken, followerIds: followers.slice(0, SMALL_FOLLOWERS), label: '1k followers', log, n0: 101 });
    await sleep(PAUSE_MS);
    const b = await burst(svc, token, followers, 1);
    log(`burst: ${BURST} posts at once, ${b.timelines} timelines: fan-outs span ${b.fanoutSpanMs} ms (busy ${b.fanoutBusyMs} ms), all on the last follower's timeline ${b.responsesToAllVisibleMs.toFixed(1)} ms after the responses; all verified`);
    const rows = [
      ...rowsFor('10k followers', FOLLOWERS, big),
      ...rowsFor('1k followers', SMALL_FOLLOWERS, small),
      {
        case: `burst: ${BURST} posts at once, 10k followers`,
        rate: Math.round(b.timelinesPerSecond),
        unit: 'timelines/s',
        note: `one consumer, one post at a time: first start -> last completion ${round1(b.fanoutSpanMs)} ms (fan-outs themselves ${round1(b.fanoutBusyMs)} ms); all ${BURST} on every timeline ${round1(b.responsesToAllVisibleMs)} ms after the responses; all verified`,
        ...roundAll(b),
      },
    ];
    return {
      config: { followers: FOLLOWERS, smallFollowers: SMALL_FOLLOWERS, posts: POSTS, fanoutBatch: 'default (1000)', watchPollMs: WATCH_POLL_MS, outboxPollMs: OUTBOX_POLL_MS, outboxRelayPollMs: 200 },
      rows,
      posts: { '10k': big.map(roundAll), '1k': small.map(roundAll) },
      burst: roundAll(b),
    };
  } finally {
    await svc.stop();
  }
}

function roundAll(r) {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? round1(v) : v]));
}
