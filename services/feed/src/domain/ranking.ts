import type { FeedConfig } from '../context.js';

/** What the ranked feed knows about a candidate post for one reader. */
export interface RankInput {
  /** When the post was created (ms). */
  createdAt: number;
  likes: number;
  comments: number;
  /** The reader's likes and comments on the author's posts in the last 90 days. */
  affinityLikes: number;
  affinityComments: number;
}

/**
 * The ranked feed's score: w_f x freshness + w_e x engagement + w_a x affinity, with
 * freshness = exp(-decay x age in minutes), engagement = ln(1 + likes + 2 x comments) and
 * affinity = 1.0 x likes + 1.5 x comments by the reader on the author (90 days). Weights and decay come
 * from config (FEED_RANK_*), defaults 0.3 / 0.4 / 0.3 and 0.0025 per minute.
 */
export function rankScore(input: RankInput, now: number, config: FeedConfig): number {
  const ageMinutes = Math.max(0, (now - input.createdAt) / 60_000);
  const freshness = Math.exp(-config.FEED_RANK_FRESHNESS_DECAY * ageMinutes);
  const engagement = Math.log(1 + Math.max(0, input.likes) + 2 * Math.max(0, input.comments));
  const affinity = 1.0 * Math.max(0, input.affinityLikes) + 1.5 * Math.max(0, input.affinityComments);
  return config.FEED_RANK_FRESHNESS_WEIGHT * freshness + config.FEED_RANK_ENGAGEMENT_WEIGHT * engagement + config.FEED_RANK_AFFINITY_WEIGHT * affinity;
}
