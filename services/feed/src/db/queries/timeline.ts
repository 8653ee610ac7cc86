import { sql, type Kysely, type Transaction } from '@nova/platform';
import type { FeedDb, PostVisibility } from '../schema.js';

type Db = Kysely<FeedDb> | Transaction<FeedDb>;

export interface TimelineEntryRow {
  id: string;
  at: Date;
}

/**
 * A reader's timeline as fan-out would have built it, from the read model: their own posts, the posts of
 * those they follow (heavy authors excepted: they are merged at read time) and what those reposted, newest
 * entry first, at most `cap`. Each followee contributes at most `cap` rows through its index, so the cost is
 * bounded by the number of followees, not by their history.
 */
export async function rebuildEntries(db: Db, userId: string, opts: { cap: number; heavyFollowers: number }): Promise<TimelineEntryRow[]> {
  const { rows } = await sql<TimelineEntryRow>`
    WITH sources AS (
      SELECT ${userId}::uuid AS author_id
      UNION ALL
      SELECT f.followee_id FROM feed.follows f
      LEFT JOIN feed.authors a ON a.id = f.followee_id
      WHERE f.follower_id = ${userId} AND coalesce(a.follower_count, 0) <= ${opts.heavyFollowers}
    ), entries AS (
      SELECT p.id, p.created_at AS at FROM sources s
      CROSS JOIN LATERAL (
        SELECT id, created_at FROM feed.posts
        WHERE author_id = s.author_id AND deleted_at IS NULL AND NOT is_reply AND (visibility <> 'private' OR author_id = ${userId})
        ORDER BY created_at DESC, id DESC LIMIT ${opts.cap}
      ) p
      UNION ALL
      SELECT r.post_id, r.created_at FROM feed.follows f
      CROSS JOIN LATERAL (SELECT post_id, created_at FROM feed.reposts WHERE user_id = f.followee_id ORDER BY created_at DESC LIMIT ${opts.cap}) r
      WHERE f.follower_id = ${userId}
    )
    SELECT id, date_trunc('milliseconds', max(at)) AS at FROM entries GROUP BY id ORDER BY max(at) DESC, id DESC LIMIT ${opts.cap}`.execute(db);
  return rows;
}

export interface ScreenedRow {
  id: string;
  author_id: string;
  visibility: PostVisibility;
  /** Milliseconds since the epoch (numbers, not Dates: a ranked read parses hundreds of rows). */
  created_at: number;
  /** Milliseconds since the epoch. */
  entered_at: number;
  like_count: number;
  comment_count: number;
  /** The author's account is private (per the read model). */
  author_private: boolean;
  /** The reader follows the author (per the read model). */
  following: boolean;
  /** A followed user who reposted the post, most recent first; null when none. */
  reposted_by: string | null;
  aff_likes: number;
  aff_comments: number;
}

export interface ScreenOptions {
  /** Heavy authors the reader follows are merged in: their posts newer than `since`, at most `perAuthor` each (none when absent). */
  heavy?: { followers: number; since: Date; perAuthor: number };
  /** Latest mode: only entries strictly before this position. */
  before?: { at: Date; id: string };
}

/**
 * The timeline entries a reader may see, with what ranking needs. Adds the posts of heavy authors the reader
 * follows, keeps one row per post (its latest entry time, never before its creation: pass 0 when unknown),
 * and drops deleted posts, replies, deleted
 * accounts, blocks either way and active mutes. Visibility and "why it is here" are decided by the caller
 * from the returned facts (they are re-checked against the hydrated post).
 */
export async function screen(db: Db, viewerId: string, entries: readonly { postId: string; at: number }[], opts: ScreenOptions = {}): Promise<ScreenedRow[]> {
  const ids = entries.map((e) => e.postId);
  const ats = entries.map((e) => e.at);
  const before = opts.before;
  const heavy = opts.heavy ?? { followers: 0, since: new Date(), perAuthor: 0 };
  const { rows } = await sql<ScreenedRow>`
    WITH followed AS (
      SELECT followee_id FROM feed.follows WHERE follower_id = ${viewerId}
    ), hidden AS (
      SELECT blocked_id AS id FROM feed.blocks WHERE blocker_id = ${viewerId}
      UNION SELECT blocker_id FROM feed.blocks WHERE blocked_id = ${viewerId}
      UNION SELECT muted_id FROM feed.mutes WHERE muter_id = ${viewerId} AND (expires_at IS NULL OR expires_at > now())
    ), given AS (
      SELECT post_id, to_timestamp(at_ms / 1000.0) AS entered_at FROM unnest(${ids}::uuid[], ${ats}::float8[]) AS g(post_id, at_ms)
    ), heavy AS (
      SELECT hp.id AS post_id, date_trunc('milliseconds', hp.created_at) AS entered_at
      FROM followed f
      JOIN feed.authors a ON a.id = f.followee_id AND a.follower_count > ${heavy.followers} AND a.deleted_at IS NULL
      CROSS JOIN LATERAL (
        SELECT p.id, p.created_at FROM feed.posts p
        WHERE p.author_id = f.followee_id AND p.deleted_at IS NULL AND NOT p.is_reply AND p.visibility <> 'private'
          AND p.created_at > ${heavy.since.toISOString()}::timestamptz
          ${before ? sql`AND date_trunc('milliseconds', p.created_at) <= ${before.at.toISOString()}::timestamptz` : sql``}
        ORDER BY p.created_at DESC, p.id DESC LIMIT ${heavy.perAuthor}
      ) hp
      WHERE ${opts.heavy !== undefined}
    ), candidates AS (
      SELECT post_id, max(entered_at) AS entered_at FROM (SELECT * FROM given UNION ALL SELECT * FROM heavy) u GROUP BY post_id
    ), affinity AS (
      SELECT author_id, sum(likes) AS likes, sum(comments) AS comments FROM feed.affinity
      WHERE viewer_id = ${viewerId} AND day >= (now() AT TIME ZONE 'UTC')::date - 90
      GROUP BY author_id
    )
    SELECT p.id, p.author_id, p.visibility, (extract(epoch FROM p.created_at) * 1000)::float8 AS created_at,
      round(extract(epoch FROM greatest(c.entered_at, date_trunc('milliseconds', p.created_at))) * 1000)::float8 AS entered_at,
      p.like_count, p.comment_count, coalesce(au.is_private, false) AS author_private, fo.followee_id IS NOT NULL AS following,
      (SELECT r.user_id FROM feed.reposts r WHERE r.post_id = p.id AND r.user_id IN (SELECT followee_id FROM followed) ORDER BY r.created_at DESC LIMIT 1) AS reposted_by,
      coalesce(af.likes, 0)::int AS aff_likes, coalesce(af.comments, 0)::int AS aff_comments
    FROM candidates c
    JOIN feed.posts p ON p.id = c.post_id AND p.deleted_at IS NULL AND NOT p.is_reply
    LEFT JOIN feed.authors au ON au.id = p.author_id
    LEFT JOIN followed fo ON fo.followee_id = p.author_id
    LEFT JOIN affinity af ON af.author_id = p.author_id
    WHERE au.deleted_at IS NULL
      AND p.author_id NOT IN (SELECT id FROM hidden)
      ${before ? sql`AND (greatest(c.entered_at, date_trunc('milliseconds', p.created_at)), p.id) < (${before.at.toISOString()}::timestamptz, ${before.id}::uuid)` : sql``}`.execute(db);
  return rows;
}

/**
 * Public posts a reader may be shown outside their timeline (trending, explore), in the order given: live,
 * public, not replies, authors neither private nor deleted, no block either way, no active mute; with
 * `excludeFollowed`, not by the reader or anyone they follow.
 */
export async function screenPublic(db: Db, viewerId: string | undefined, ids: readonly string[], opts: { excludeFollowed: boolean }): Promise<{ id: string; author_id: string }[]> {
  if (ids.length === 0) return [];
  const viewer = viewerId ?? null;
  const { rows } = await sql<{ id: string; author_id: string; ord: number }>`
    SELECT p.id, p.author_id, g.ord FROM unnest(${[...ids]}::uuid[]) WITH ORDINALITY AS g(id, ord)
    JOIN feed.posts p ON p.id = g.id AND p.deleted_at IS NULL AND p.visibility = 'public' AND NOT p.is_reply
    LEFT JOIN feed.authors au ON au.id = p.author_id
    WHERE coalesce(NOT au.is_private AND au.deleted_at IS NULL, true)
      AND (${viewer}::uuid IS NULL OR (
        NOT EXISTS (SELECT 1 FROM feed.blocks b WHERE (b.blocker_id = ${viewer} AND b.blocked_id = p.author_id) OR (b.blocker_id = p.author_id AND b.blocked_id = ${viewer}))
        AND NOT EXISTS (SELECT 1 FROM feed.mutes m WHERE m.muter_id = ${viewer} AND m.muted_id = p.author_id AND (m.expires_at IS NULL OR m.expires_at > now()))
        ${opts.excludeFollowed ? sql`AND p.author_id <> ${viewer} AND NOT EXISTS (SELECT 1 FROM feed.follows fo WHERE fo.follower_id = ${viewer} AND fo.followee_id = p.author_id)` : sql``}
      ))
    ORDER BY g.ord`.execute(db);
  return rows;
}
