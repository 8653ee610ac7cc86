import { sql, type Kysely, type Transaction } from '@nova/platform';
import type { FeedDb } from '../schema.js';

type Db = Kysely<FeedDb> | Transaction<FeedDb>;

/** Width of an engagement bucket: the finest resolution of the trending windows. */
const BUCKET = '5 minutes';

/** Adds engagement points to a post (and to each of its hashtags) in the bucket of `at`. */
export async function addPoints(db: Db, points: number, at: Date, target: { postId?: string; hashtags?: readonly string[] }): Promise<void> {
  const bucket = sql`date_bin(${BUCKET}::interval, ${at.toISOString()}::timestamptz, 'epoch'::timestamptz)`;
  if (target.postId !== undefined) {
    await sql`
      INSERT INTO feed.post_engagement (post_id, bucket, points) VALUES (${target.postId}, ${bucket}, ${points})
      ON CONFLICT (post_id, bucket) DO UPDATE SET points = feed.post_engagement.points + excluded.points`.execute(db);
  }
  if (target.hashtags !== undefined && target.hashtags.length > 0) {
    await sql`
      INSERT INTO feed.hashtag_engagement (tag, bucket, points)
      SELECT tag, ${bucket}, ${points}::double precision FROM unnest(${[...new Set(target.hashtags)]}::text[]) AS t(tag)
      ON CONFLICT (tag, bucket) DO UPDATE SET points = feed.hashtag_engagement.points + excluded.points`.execute(db);
  }
}

/** Adds view points for posts in one statement; only live posts of the projection count. */
export async function addViewPoints(db: Db, postIds: readonly string[], points: number, at: Date): Promise<void> {
  if (postIds.length === 0) return;
  const bucket = sql`date_bin(${BUCKET}::interval, ${at.toISOString()}::timestamptz, 'epoch'::timestamptz)`;
  await sql`
    INSERT INTO feed.post_engagement (post_id, bucket, points)
    SELECT p.id, ${bucket}, ${points}::double precision FROM feed.posts p WHERE p.id = ANY(${[...postIds]}::uuid[]) AND p.deleted_at IS NULL
    ON CONFLICT (post_id, bucket) DO UPDATE SET points = feed.post_engagement.points + excluded.points`.execute(db);
  await sql`
    INSERT INTO feed.hashtag_engagement (tag, bucket, points)
    SELECT tag, ${bucket}, sum(${points}::double precision) FROM feed.posts p, unnest(p.hashtags) AS tag
    WHERE p.id = ANY(${[...postIds]}::uuid[]) AND p.deleted_at IS NULL AND p.visibility = 'public'
    GROUP BY tag
    ON CONFLICT (tag, bucket) DO UPDATE SET points = feed.hashtag_engagement.points + excluded.points`.execute(db);
}

export interface Scored {
  id: string;
  score: number;
}

/**
 * The top public posts of a window by decayed engagement: each bucket's points weigh 2^(-age / half-life).
 * Only live, public, non-reply posts of accounts that are neither private nor deleted.
 */
export async function topPosts(db: Db, windowSeconds: number, halfLifeHours: number, limit: number): Promise<Scored[]> {
  const { rows } = await sql<Scored>`
    SELECT e.post_id AS id, sum(e.points * power(2, -extract(epoch FROM now() - e.bucket) / (${halfLifeHours}::float8 * 3600)))::float8 AS score
    FROM feed.post_engagement e
    JOIN feed.posts p ON p.id = e.post_id AND p.deleted_at IS NULL AND p.visibility = 'public' AND NOT p.is_reply
    LEFT JOIN feed.authors a ON a.id = p.author_id
    WHERE e.bucket > now() - make_interval(secs => ${windowSeconds})
      AND coalesce(NOT a.is_private AND a.deleted_at IS NULL, true)
    GROUP BY e.post_id
    HAVING sum(e.points) > 0
    ORDER BY score DESC, e.post_id
    LIMIT ${limit}`.execute(db);
  return rows;
}

/** The top hashtags of a window by decayed engagement of the public posts carrying them (and their use). */
export async function topHashtags(db: Db, windowSeconds: number, halfLifeHours: number, limit: number): Promise<Scored[]> {
  const { rows } = await sql<Scored>`
    SELECT tag AS id, sum(points * power(2, -extract(epoch FROM now() - bucket) / (${halfLifeHours}::float8 * 3600)))::float8 AS score
    FROM feed.hashtag_engagement
    WHERE bucket > now() - make_interval(secs => ${windowSeconds})
    GROUP BY tag
    HAVING sum(points) > 0
    ORDER BY score DESC, tag
    LIMIT ${limit}`.execute(db);
  return rows;
}

/** Drops engagement older than the longest window. */
export async function purgeEngagement(db: Db, olderThanSeconds: number): Promise<void> {
  await sql`DELETE FROM feed.post_engagement WHERE bucket < now() - make_interval(secs => ${olderThanSeconds})`.execute(db);
  await sql`DELETE FROM feed.hashtag_engagement WHERE bucket < now() - make_interval(secs => ${olderThanSeconds})`.execute(db);
}
