import { describe, expect, it } from 'vitest';
import { rankScore } from './ranking.js';
import type { FeedConfig } from '../context.js';

const config = {
  FEED_RANK_FRESHNESS_WEIGHT: 0.3,
  FEED_RANK_ENGAGEMENT_WEIGHT: 0.4,
  FEED_RANK_AFFINITY_WEIGHT: 0.3,
  FEED_RANK_FRESHNESS_DECAY: 0.0025,
} as FeedConfig;
const now = Date.parse('2026-11-28T12:00:00Z');
const fresh = { createdAt: now, likes: 0, comments: 0, affinityLikes: 0, affinityComments: 0 };

describe('rankScore', () => {
  it('is the weighted sum of freshness, engagement and affinity of the original system', () => {
    const input = { createdAt: now - 60 * 60_000, likes: 3, comments: 2, affinityLikes: 2, affinityComments: 1 };
    const expected = 0.3 * Math.exp(-0.0025 * 60) + 0.4 * Math.log(1 + 3 + 4) + 0.3 * (2 + 1.5);
    expect(rankScore(input, now, config)).toBeCloseTo(expected, 12);
  });

  it('prefers a newer post when nothing else differs, and an engaged one over a slightly newer one', () => {
    const older = { ...fresh, createdAt: now - 10 * 60_000 };
    expect(rankScore(fresh, now, config)).toBeGreaterThan(rankScore(older, now, config));
    expect(rankScore({ ...older, likes: 20 }, now, config)).toBeGreaterThan(rankScore(fresh, now, config));
  });

  it("ranks an author the reader interacts with above a stranger's equal post", () => {
    expect(rankScore({ ...fresh, affinityComments: 1 }, now, config)).toBeGreaterThan(rankScore(fresh, now, config));
  });

  it('takes its weights from config', () => {
    const freshnessOnly = { ...config, FEED_RANK_ENGAGEMENT_WEIGHT: 0, FEED_RANK_AFFINITY_WEIGHT: 0, FEED_RANK_FRESHNESS_WEIGHT: 1 };
    expect(rankScore({ ...fresh, likes: 1_000, affinityLikes: 50 }, now, freshnessOnly)).toBeCloseTo(1, 12);
  });
});
