import type { EventEnvelope, Transaction } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as eq from '../db/queries/engagement.js';
import * as gq from '../db/queries/graph.js';
import * as pq from '../db/queries/posts.js';
import type { FeedDb } from '../db/schema.js';
import { optionalTimeField, optionalUuidField, tagsField, timeField, uuidField, visibilityField } from './event-data.js';

type Tx = Transaction<FeedDb>;

/** Trending points of each interaction (the weights); a view counts 1 (see views.ts). */
export const POINTS = { like: 5, comment: 3, repost: 10 } as const;

/**
 * Keeps the feed's read model in step with content's post events (`content.post.*`, one consumer, so a
 * post's events apply in order): posts, their visibility and counters, reposts, the readers' affinity to
 * authors, and trending points. Every change is idempotent under redelivery (handled_events) and replay.
 */
export async function onPostEvent(ctx: AppContext, tx: Tx, event: EventEnvelope): Promise<void> {
  switch (event.type) {
    case 'PostCreated': {
      const post = {
        id: uuidField(event, 'post_id'),
        authorId: uuidField(event, 'author_id'),
        visibility: visibilityField(event),
        isReply: optionalUuidField(event, 'reply_to') !== null,
        hashtags: tagsField(event),
        createdAt: timeField(event, 'created_at'),
      };
      await pq.insertPost(tx, post);
      return;
    }
    case 'PostUpdated':
      await pq.updatePost(tx, uuidField(event, 'post_id'), { visibility: visibilityField(event), hashtags: tagsField(event) });
      return;
    case 'PostDeleted':
      await pq.markDeleted(tx, uuidField(event, 'post_id'), timeField(event));
      return;
    case 'PostLiked':
    case 'PostUnliked':
      return interaction(tx, event, 'like', event.type === 'PostLiked' ? 1 : -1);
    case 'PostReposted':
    case 'PostUnreposted': {
      const on = event.type === 'PostReposted';
      const userId = uuidField(event, 'user_id');
      const postId = uuidField(event, 'post_id');
      const changed = on ? await pq.insertRepost(tx, userId, postId, timeField(event)) : await pq.deleteRepost(tx, userId, postId);
      if (changed) await interaction(tx, event, 'repost', on ? 1 : -1);
      return;
    }
    default:
      ctx.logger.debug({ type: event.type }, 'feed ignores this post event');
  }
}

/** Content's comment events (`content.comment.*`): comment counts, affinity and trending points. */
export async function onCommentEvent(_ctx: AppContext, tx: Tx, event: EventEnvelope): Promise<void> {
  if (event.type !== 'CommentCreated' && event.type !== 'CommentDeleted') return;
  await interaction(tx, event, 'comment', event.type === 'CommentCreated' ? 1 : -1, 'post_author_id');
}

async function interaction(tx: Tx, event: EventEnvelope, kind: 'like' | 'comment' | 'repost', sign: 1 | -1, authorField = 'author_id'): Promise<void> {
  const postId = uuidField(event, 'post_id');
  const userId = uuidField(event, kind === 'comment' ? 'author_id' : 'user_id');
  const authorId = uuidField(event, authorField);
  const at = timeField(event);
  if (kind !== 'repost') await pq.bumpCounter(tx, postId, kind === 'like' ? 'like_count' : 'comment_count', sign);
  else await pq.bumpCounter(tx, postId, 'repost_count', sign);
  if (kind !== 'repost' && userId !== authorId) await pq.bumpAffinity(tx, userId, authorId, at, kind === 'like' ? { likes: sign } : { comments: sign });
  // Points count for every post; trending lists only show live public posts of public accounts.
  await eq.addPoints(tx, postId, sign * POINTS[kind], at);
}

/**
 * The user service's follows (`user.follow.*`): the follow graph and follower counts; a new follow merges
 * the followee's recent posts into the follower's cached timeline, an unfollow takes them out. The Redis
 * part is best effort: every read re-checks follows, so a missed cleanup is never shown.
 */
export async function onFollowEvent(ctx: AppContext, tx: Tx, event: EventEnvelope): Promise<void> {
  if (event.type !== 'FollowCreated' && event.type !== 'FollowDeleted') return;
  const follower = uuidField(event, 'follower_id');
  const followee = uuidField(event, 'followee_id');
  if (event.type === 'FollowCreated') {
    if (!(await gq.insertFollow(tx, follower, followee, timeField(event)))) return;
    if ((await gq.followerCount(tx, followee)) > ctx.config.FEED_HEAVY_AUTHOR_FOLLOWERS) return;
    const posts = await pq.recentTimelinePosts(tx, followee, ctx.config.FEED_FOLLOW_BACKFILL_POSTS);
    await bestEffort(ctx, 'follow_backfill', () => ctx.timelines.appendMany([follower], posts.map((p) => ({ postId: p.id, at: p.created_at.getTime() }))));
  } else {
    if (!(await gq.deleteFollow(tx, follower, followee))) return;
    const posts = await pq.recentTimelinePosts(tx, followee, ctx.config.FEED_TIMELINE_CAP);
    await bestEffort(ctx, 'unfollow_cleanup', () => ctx.timelines.removeMany([follower], posts.map((p) => p.id)));
  }
}

/** Blocks (`user.block.*`): kept for screening; a new block also takes each side's posts out of the other's timeline. */
export async function onBlockEvent(ctx: AppContext, tx: Tx, event: EventEnvelope): Promise<void> {
  const blocker = uuidField(event, 'blocker_id');
  const blocked = uuidField(event, 'blocked_id');
  if (event.type === 'UserUnblocked') return gq.deleteBlock(tx, blocker, blocked);
  if (event.type !== 'UserBlocked') return;
  await gq.insertBlock(tx, blocker, blocked);
  const cap = ctx.config.FEED_TIMELINE_CAP;
  const [theirs, mine] = await Promise.all([pq.recentTimelinePosts(tx, blocked, cap), pq.recentTimelinePosts(tx, blocker, cap)]);
  await bestEffort(ctx, 'block_cleanup', async () => {
    await ctx.timelines.removeMany([blocker], theirs.map((p) => p.id));
    await ctx.timelines.removeMany([blocked], mine.map((p) => p.id));
  });
}

/** Mutes (`user.mute.*`), with their expiry. */
export async function onMuteEvent(_ctx: AppContext, tx: Tx, event: EventEnvelope): Promise<void> {
  const muter = uuidField(event, 'muter_id');
  const muted = uuidField(event, 'muted_id');
  if (event.type === 'UserMuted') await gq.upsertMute(tx, muter, muted, optionalTimeField(event, 'expires_at'));
  else if (event.type === 'UserUnmuted') await gq.deleteMute(tx, muter, muted);
}

/** Profile changes (`user.profile.*`): only whether the account is private matters here. */
export async function onProfileEvent(_ctx: AppContext, tx: Tx, event: EventEnvelope): Promise<void> {
  if (event.type !== 'ProfileUpdated') return;
  const changes = (event.data as { changes?: { is_private?: unknown } } | null)?.changes;
  if (typeof changes?.is_private === 'boolean') await gq.setPrivate(tx, uuidField(event, 'user_id'), changes.is_private);
}

/** auth's UserDeleted: the account disappears from the read model, and its own cached timeline goes. */
export async function onUserDeleted(ctx: AppContext, tx: Tx, event: EventEnvelope): Promise<void> {
  const userId = uuidField(event, 'user_id');
  const { followers } = await gq.deleteAccount(tx, userId, timeField(event));
  const posts = await tx.selectFrom('posts').select('id').where('author_id', '=', userId).orderBy('created_at', 'desc').limit(ctx.config.FEED_TIMELINE_CAP).execute();
  await bestEffort(ctx, 'account_cleanup', async () => {
    await ctx.timelines.drop(userId);
    for (let i = 0; i < followers.length; i += ctx.config.FEED_FANOUT_BATCH) {
      await ctx.timelines.removeMany(followers.slice(i, i + ctx.config.FEED_FANOUT_BATCH), posts.map((p) => p.id));
    }
  });
}

async function bestEffort(ctx: AppContext, operation: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    ctx.metrics.redisFallbacks.inc({ operation });
    ctx.logger.warn({ err, operation }, 'feed skipped a timeline cleanup: Redis unavailable (reads still filter it out)');
  }
}
