import { sql, type Kysely } from '@nova/platform';

/**
 * The feed's read model, built only from other services' events (content's posts, likes, reposts and
 * comments; the user service's follows, blocks, mutes and privacy; auth's account deletions). It is what a
 * timeline is rebuilt from when Redis has none, and what every read filters against. Events of different
 * aggregates arrive on different consumers, in no order relative to each other, so there are no foreign keys:
 * a like may name a post this model has not seen yet.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE feed.authors (
      id uuid PRIMARY KEY,
      is_private boolean NOT NULL DEFAULT false,
      follower_count integer NOT NULL DEFAULT 0 CHECK (follower_count >= 0),
      deleted_at timestamptz
    )`.execute(db);

  await sql`
    CREATE TABLE feed.posts (
      id uuid PRIMARY KEY,
      author_id uuid NOT NULL,
      visibility text NOT NULL CHECK (visibility IN ('public', 'followers', 'private')),
      is_reply boolean NOT NULL DEFAULT false,
      hashtags text[] NOT NULL DEFAULT '{}',
      like_count integer NOT NULL DEFAULT 0,
      comment_count integer NOT NULL DEFAULT 0,
      repost_count integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL,
      deleted_at timestamptz
    )`.execute(db);
  await sql`CREATE INDEX posts_author_recent ON feed.posts (author_id, created_at DESC, id DESC) WHERE deleted_at IS NULL`.execute(db);

  await sql`
    CREATE TABLE feed.reposts (
      user_id uuid NOT NULL,
      post_id uuid NOT NULL,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (user_id, post_id)
    )`.execute(db);
  await sql`CREATE INDEX reposts_user_recent ON feed.reposts (user_id, created_at DESC)`.execute(db);
  await sql`CREATE INDEX reposts_post ON feed.reposts (post_id)`.execute(db);

  await sql`
    CREATE TABLE feed.follows (
      follower_id uuid NOT NULL,
      followee_id uuid NOT NULL,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (follower_id, followee_id),
      CHECK (follower_id <> followee_id)
    )`.execute(db);
  await sql`CREATE INDEX follows_followee ON feed.follows (followee_id, follower_id)`.execute(db);

  await sql`
    CREATE TABLE feed.blocks (
      blocker_id uuid NOT NULL,
      blocked_id uuid NOT NULL,
      PRIMARY KEY (blocker_id, blocked_id)
    )`.execute(db);
  await sql`CREATE INDEX blocks_blocked ON feed.blocks (blocked_id, blocker_id)`.execute(db);

  await sql`
    CREATE TABLE feed.mutes (
      muter_id uuid NOT NULL,
      muted_id uuid NOT NULL,
      expires_at timestamptz,
      PRIMARY KEY (muter_id, muted_id)
    )`.execute(db);

  // When each user last read their feed: fan-out writes only to readers seen within FEED_ACTIVE_DAYS.
  await sql`
    CREATE TABLE feed.readers (
      user_id uuid PRIMARY KEY,
      last_seen_at timestamptz NOT NULL
    )`.execute(db);

  // A reader's likes and comments on an author's posts, per day (ranking affinity over 90 days).
  await sql`
    CREATE TABLE feed.affinity (
      viewer_id uuid NOT NULL,
      author_id uuid NOT NULL,
      day date NOT NULL,
      likes integer NOT NULL DEFAULT 0,
      comments integer NOT NULL DEFAULT 0,
      PRIMARY KEY (viewer_id, author_id, day)
    )`.execute(db);

  // Trending: engagement points (view 1, like 5, comment 3, repost 10; negative for an undo) per post, in
  // 5-minute buckets. The decay is applied when the top lists are computed; hashtags score through their posts.
  await sql`
    CREATE TABLE feed.post_engagement (
      post_id uuid NOT NULL,
      bucket timestamptz NOT NULL,
      points double precision NOT NULL,
      PRIMARY KEY (post_id, bucket)
    )`.execute(db);
  await sql`CREATE INDEX post_engagement_bucket ON feed.post_engagement (bucket)`.execute(db);
  await sql`CREATE INDEX posts_tagged_recent ON feed.posts (created_at) WHERE cardinality(hashtags) > 0 AND deleted_at IS NULL`.execute(db);

  // Ranked feed snapshots (the cursor's order) when Redis cannot hold them. Disposable: unlogged.
  await sql`
    CREATE UNLOGGED TABLE feed.snapshots (
      id uuid PRIMARY KEY,
      owner_id uuid NOT NULL,
      entries jsonb NOT NULL,
      expires_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX snapshots_expiry ON feed.snapshots (expires_at)`.execute(db);
}
