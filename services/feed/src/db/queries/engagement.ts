import { sql, type Kysely, type Transaction } from '@nova/platform';
import type { FeedDb } from '../schema.js';

type Db = Kysely<FeedDb> | Transaction<FeedDb>;

/** Width of an engagement bucket: the finest resolution of the trending windows. */
const BUCKET = '5 minutes';

/** Adds engagement points to a post in the bucket of `at`. */
export async function addPoints(db: Db, postId: string, points: number, at: Date): Promise<void> {
  await sql`
    INSERT INTO feed.post_engagement (post_id, bucket, points) VALUES (${postId}, ${bucketOf(at)}, ${points})
    ON CONFLICT (post_id, bucket) DO UPDATE SET points = feed.post_engagement.points + excluded.points`.execute(db);
}

/** Adds view points for posts in one statement; only live posts of the read model count. */
export async function addViewPoints(db: Db, postIds: readonly string[], points: number, at: Date): Promise<void> {
  if (postIds.length === 0) return;
  await sql`
    INSERT INTO feed.post_engagement (post_id, bucket, points)
    SELECT p.id, ${bucketOf(at)}, ${points}::double precision FROM feed.posts p WHERE p.id = ANY(${[...postIds]}::uuid[]) AND p.deleted_at IS NULL
    ON CONFLICT (post_id, bucket) DO UPDATE SET points = feed.post_engagement.points + excluded.points`.execute(db);
}

function bucketOf(at: Date) {
  return sql`date_bin(${BUCKET}::interval, ${at.toISOString()}::timestamptz, 'epoch'::timestamptz)`;
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

/**
 * The top hashtags of a window: each live public post carrying a tag (of an account neither private nor
 * deleted) adds its decayed engagement in the window, plus 1 decayed from its creation when it was made
 * within the window (so a tag trends by use as well as by engagement).
 */
export async function topHashtags(db: Db, windowSeconds: number, halfLifeHours: number, limit: number): Promise<Scored[]> {
  const decay = (at: ReturnType<typeof sql>) => sql`power(2, -extract(epoch FROM now() - ${at}) / (${halfLifeHours}::float8 * 3600))`;
  const since = sql`now() - make_interval(secs => ${windowSeconds})`;
  const { rows } = await sql<Scored>`
    WITH engaged AS (
      SELECT post_id, sum(points * ${decay(sql`bucket`)}) AS score FROM feed.post_engagement WHERE bucket > ${since} GROUP BY post_id
    ), scored AS (
      SELECT p.hashtags, coalesce(e.score, 0) + CASE WHEN p.created_at > ${since} THEN ${decay(sql`p.created_at`)} ELSE 0 END AS score
      FROM feed.posts p
      LEFT JOIN engaged e ON e.post_id = p.id
      LEFT JOIN feed.authors a ON a.id = p.author_id
      WHERE cardinality(p.hashtags) > 0 AND p.deleted_at IS NULL AND p.visibility = 'public'
        AND (e.post_id IS NOT NULL OR p.created_at > ${since})
        AND coalesce(NOT a.is_private AND a.deleted_at IS NULL, true)
    )
    SELECT tag AS id, sum(score)::float8 AS score FROM scored, unnest(hashtags) AS tag
    GROUP BY tag HAVING sum(score) > 0
    ORDER BY score DESC, tag
    LIMIT ${limit}`.execute(db);
  return rows;
}

/** Drops engagement older than the longest window. */
export async function purgeEngagement(db: Db, olderThanSeconds: number): Promise<void> {
  await sql`DELETE FROM feed.post_engagement WHERE bucket < now() - make_interval(secs => ${olderThanSeconds})`.execute(db);
}
