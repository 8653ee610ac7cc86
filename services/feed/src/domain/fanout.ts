import type { EventEnvelope, Transaction } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as gq from '../db/queries/graph.js';
import type { FeedDb } from '../db/schema.js';
import { optionalUuidField, timeField, uuidField, visibilityField } from './event-data.js';
import type { Entry } from './timelines.js';

type Tx = Transaction<FeedDb>;

/**
 * Fan-out on write (its own consumer of `content.post.*`, so a Redis outage holds back timelines, never the
 * read model). A new post goes into the cached timeline of its author and of every active follower, in
 * pipelined batches; then, in the same transaction that records the event as handled, a FeedUpdated event
 * says it is there. Authors with more than FEED_HEAVY_AUTHOR_FOLLOWERS followers are not fanned out (their
 * posts are merged at read time). A repost goes to the reposter's followers; a deletion, or a post becoming
 * private, is taken out again. Redis failures throw: the event is redelivered with backoff, and writes are
 * idempotent (ZADD GT, ZREM).
 */
export async function onPostFanout(ctx: AppContext, tx: Tx, event: EventEnvelope): Promise<void> {
  switch (event.type) {
    case 'PostCreated': {
      if (optionalUuidField(event, 'reply_to') !== null) return; // replies live in their threads, not in home feeds
      const postId = uuidField(event, 'post_id');
      const authorId = uuidField(event, 'author_id');
      const visibility = visibilityField(event);
      const entry = { postId, at: timeField(event, 'created_at').getTime() };
      const started = Date.now();
      const heavy = (await gq.followerCount(tx, authorId)) > ctx.config.FEED_HEAVY_AUTHOR_FOLLOWERS;
      let timelines = await ctx.timelines.appendMany([authorId], [entry]);
      if (visibility !== 'private' && !heavy) timelines += await toFollowers(ctx, tx, authorId, (ids) => ctx.timelines.appendMany(ids, [entry]));
      const completed = Date.now();
      ctx.metrics.fanoutTimelines.inc(timelines);
      ctx.metrics.fanoutDuration.observe((completed - started) / 1000);
      await ctx.outbox.add(tx, {
        aggregate: 'timeline',
        action: 'updated',
        type: 'FeedUpdated',
        entityId: postId,
        data: {
          post_id: postId,
          author_id: authorId,
          delivery: visibility === 'private' ? 'author_only' : heavy ? 'read_time' : 'fanout',
          timelines,
          started_at: new Date(started).toISOString(),
          completed_at: new Date(completed).toISOString(),
        },
        correlationId: event.correlation_id,
      });
      return;
    }
    case 'PostReposted': {
      const reposter = uuidField(event, 'user_id');
      if ((await gq.followerCount(tx, reposter)) > ctx.config.FEED_HEAVY_AUTHOR_FOLLOWERS) return;
      const entry: Entry = { postId: uuidField(event, 'post_id'), at: timeField(event).getTime() };
      await toFollowers(ctx, tx, reposter, (ids) => ctx.timelines.appendMany(ids, [entry]));
      return;
    }
    case 'PostDeleted':
      return remove(ctx, tx, uuidField(event, 'author_id'), uuidField(event, 'post_id'));
    case 'PostUpdated': {
      const before = visibilityField(event, 'previous_visibility');
      const after = visibilityField(event);
      const postId = uuidField(event, 'post_id');
      const authorId = uuidField(event, 'author_id');
      if (after === 'private' && before !== 'private') return remove(ctx, tx, authorId, postId, { keepAuthor: true });
      if (before === 'private' && after !== 'private') {
        const post = await tx.selectFrom('posts').select(['created_at', 'is_reply']).where('id', '=', postId).executeTakeFirst();
        if (!post || post.is_reply || (await gq.followerCount(tx, authorId)) > ctx.config.FEED_HEAVY_AUTHOR_FOLLOWERS) return;
        const entry = { postId, at: post.created_at.getTime() };
        await toFollowers(ctx, tx, authorId, (ids) => ctx.timelines.appendMany(ids, [entry]));
      }
      return;
    }
    default:
      return;
  }
}

async function remove(ctx: AppContext, tx: Tx, authorId: string, postId: string, opts: { keepAuthor?: boolean } = {}): Promise<void> {
  if (!opts.keepAuthor) await ctx.timelines.removeMany([authorId], [postId]);
  await toFollowers(ctx, tx, authorId, async (ids) => {
    await ctx.timelines.removeMany(ids, [postId]);
    return ids.length;
  });
}

/**
 * Runs `write` over the author's active followers in batches of FEED_FANOUT_BATCH; sums what it returns. The
 * next batch of followers is read from PostgreSQL while the current one is written to Redis.
 */
async function toFollowers(ctx: AppContext, tx: Tx, authorId: string, write: (ids: string[]) => Promise<number>): Promise<number> {
  const batch = ctx.config.FEED_FANOUT_BATCH;
  const page = (after: string | undefined) => gq.activeFollowers(tx, authorId, ctx.config.FEED_ACTIVE_DAYS, after, batch);
  let ids = await page(undefined);
  let total = 0;
  while (ids.length > 0) {
    const next = ids.length === batch ? page(ids.at(-1)) : Promise.resolve([]);
    const [written, following] = await Promise.all([write(ids), next]);
    total += written;
    ids = following;
  }
  return total;
}
