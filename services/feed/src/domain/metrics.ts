import { Counter, Histogram } from 'prom-client';
import type { PlatformMetrics } from '@nova/platform';

/** The feed's business metrics, on the process registry. */
export interface FeedMetrics {
  /** Home feed pages served, by mode and by where the timeline came from (cache, rebuilt, database). */
  reads: Counter<'mode' | 'source'>;
  /** Timelines a fan-out wrote to (only materialized timelines of active readers count). */
  fanoutTimelines: Counter;
  /** From the start of a post's fan-out to its last timeline write. */
  fanoutDuration: Histogram;
  /** Redis operations the feed could not do and worked around (served from PostgreSQL, skipped a cleanup). */
  redisFallbacks: Counter<'operation'>;
}

export function feedMetrics(metrics: PlatformMetrics): FeedMetrics {
  const registers = [metrics.registry];
  const existing = <T>(name: string) => metrics.registry.getSingleMetric(name) as T | undefined;
  return {
    reads: existing('feed_reads_total') ?? new Counter({ name: 'feed_reads_total', help: 'Home feed pages served', labelNames: ['mode', 'source'], registers }),
    fanoutTimelines: existing('feed_fanout_timelines_total') ?? new Counter({ name: 'feed_fanout_timelines_total', help: 'Timeline inserts made by fan-out on write', registers }),
    fanoutDuration:
      existing('feed_fanout_duration_seconds') ??
      new Histogram({ name: 'feed_fanout_duration_seconds', help: "Time from a post's fan-out start to its last timeline write", buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers }),
    redisFallbacks: existing('feed_redis_fallbacks_total') ?? new Counter({ name: 'feed_redis_fallbacks_total', help: 'Redis operations the feed worked around', labelNames: ['operation'], registers }),
  };
}
