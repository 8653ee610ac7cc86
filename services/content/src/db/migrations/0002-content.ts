import { sql, type Kysely } from '@nova/platform';

/**
 * Posts (with edit history, hashtags, mentions), likes, bookmarks, reposts, comment threads with likes, and
 * stories with views and close friends. Foreign keys are RESTRICT; posts, comments and stories are soft-deleted.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE content.posts (
      id uuid PRIMARY KEY,
      author_id uuid NOT NULL,
      text text NOT NULL DEFAULT '' CHECK (char_length(text) <= 2200),
      media_ids uuid[] NOT NULL DEFAULT '{}' CHECK (cardinality(media_ids) <= 10),
      visibility text NOT NULL CHECK (visibility IN ('public', 'followers', 'private')),
      reply_to_id uuid REFERENCES content.posts (id) ON DELETE RESTRICT,
      quote_of_id uuid REFERENCES content.posts (id) ON DELETE RESTRICT,
      idempotency_key text,
      like_count integer NOT NULL DEFAULT 0 CHECK (like_count >= 0),
      comment_count integer NOT NULL DEFAULT 0 CHECK (comment_count >= 0),
      repost_count integer NOT NULL DEFAULT 0 CHECK (repost_count >= 0),
      bookmark_count integer NOT NULL DEFAULT 0 CHECK (bookmark_count >= 0),
      quote_count integer NOT NULL DEFAULT 0 CHECK (quote_count >= 0),
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      edited_at timestamptz,
      deleted_at timestamptz,
      deleted_by uuid,
      CHECK (char_length(text) > 0 OR cardinality(media_ids) > 0)
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX posts_idempotency ON content.posts (author_id, idempotency_key) WHERE idempotency_key IS NOT NULL`.execute(db);
  await sql`CREATE INDEX posts_author_idx ON content.posts (author_id, created_at DESC, id DESC) WHERE deleted_at IS NULL`.execute(db);
  await sql`CREATE INDEX posts_reply_idx ON content.posts (reply_to_id) WHERE reply_to_id IS NOT NULL`.execute(db);

  await sql`
    CREATE TABLE content.post_edits (
      id uuid PRIMARY KEY,
      post_id uuid NOT NULL REFERENCES content.posts (id) ON DELETE RESTRICT,
      text text NOT NULL,
      visibility text NOT NULL,
      edited_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )`.execute(db);
  await sql`CREATE INDEX post_edits_post_idx ON content.post_edits (post_id, edited_at DESC)`.execute(db);

  await sql`
    CREATE TABLE content.post_hashtags (
      post_id uuid NOT NULL REFERENCES content.posts (id) ON DELETE RESTRICT,
      tag text NOT NULL,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (post_id, tag)
    )`.execute(db);
  await sql`CREATE INDEX post_hashtags_tag_idx ON content.post_hashtags (tag, created_at DESC, post_id DESC)`.execute(db);

  await sql`
    CREATE TABLE content.post_mentions (
      post_id uuid NOT NULL REFERENCES content.posts (id) ON DELETE RESTRICT,
      user_id uuid NOT NULL,
      PRIMARY KEY (post_id, user_id)
    )`.execute(db);
  await sql`CREATE INDEX post_mentions_user_idx ON content.post_mentions (user_id)`.execute(db);

  for (const table of ['likes', 'bookmarks', 'reposts']) {
    await sql`
      CREATE TABLE ${sql.id('content', table)} (
        post_id uuid NOT NULL REFERENCES content.posts (id) ON DELETE RESTRICT,
        user_id uuid NOT NULL,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (post_id, user_id)
      )`.execute(db);
    await sql`CREATE INDEX ${sql.id(`${table}_user_idx`)} ON ${sql.id('content', table)} (user_id, created_at DESC, post_id DESC)`.execute(db);
    await sql`CREATE INDEX ${sql.id(`${table}_post_idx`)} ON ${sql.id('content', table)} (post_id, created_at DESC, user_id DESC)`.execute(db);
  }

  await sql`
    CREATE TABLE content.comments (
      id uuid PRIMARY KEY,
      post_id uuid NOT NULL REFERENCES content.posts (id) ON DELETE RESTRICT,
      author_id uuid NOT NULL,
      parent_id uuid REFERENCES content.comments (id) ON DELETE RESTRICT,
      text text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 2200),
      like_count integer NOT NULL DEFAULT 0 CHECK (like_count >= 0),
      reply_count integer NOT NULL DEFAULT 0 CHECK (reply_count >= 0),
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      deleted_at timestamptz,
      deleted_by uuid
    )`.execute(db);
  await sql`CREATE INDEX comments_post_idx ON content.comments (post_id, created_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX comments_parent_idx ON content.comments (parent_id, created_at, id) WHERE parent_id IS NOT NULL`.execute(db);
  await sql`CREATE INDEX comments_author_idx ON content.comments (author_id)`.execute(db);

  await sql`
    CREATE TABLE content.comment_likes (
      comment_id uuid NOT NULL REFERENCES content.comments (id) ON DELETE RESTRICT,
      user_id uuid NOT NULL,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (comment_id, user_id)
    )`.execute(db);

  await sql`
    CREATE TABLE content.stories (
      id uuid PRIMARY KEY,
      author_id uuid NOT NULL,
      media_id uuid NOT NULL,
      caption text CHECK (char_length(caption) <= 500),
      audience text NOT NULL CHECK (audience IN ('public', 'followers', 'close_friends')),
      view_count integer NOT NULL DEFAULT 0 CHECK (view_count >= 0),
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      expires_at timestamptz NOT NULL,
      deleted_at timestamptz,
      deleted_by uuid
    )`.execute(db);
  await sql`CREATE INDEX stories_author_idx ON content.stories (author_id, created_at DESC) WHERE deleted_at IS NULL`.execute(db);
  await sql`CREATE INDEX stories_expiry_idx ON content.stories (expires_at) WHERE deleted_at IS NULL`.execute(db);

  await sql`
    CREATE TABLE content.story_views (
      story_id uuid NOT NULL REFERENCES content.stories (id) ON DELETE RESTRICT,
      viewer_id uuid NOT NULL,
      viewed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (story_id, viewer_id)
    )`.execute(db);
  await sql`CREATE INDEX story_views_viewer_idx ON content.story_views (viewer_id)`.execute(db);

  await sql`
    CREATE TABLE content.close_friends (
      user_id uuid NOT NULL,
      friend_id uuid NOT NULL,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (user_id, friend_id),
      CHECK (user_id <> friend_id)
    )`.execute(db);
}
