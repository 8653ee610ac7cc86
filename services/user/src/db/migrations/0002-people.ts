import { sql, type Kysely } from '@nova/platform';

/**
 * Profiles and the relationships between them: one follow store, one follow-request store, one block
 * store, mutes and settings. A profile's id is the account id auth issued. Foreign keys are RESTRICT.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE users.profiles (
      id uuid PRIMARY KEY,
      username text NOT NULL,
      username_lower text NOT NULL,
      display_name text CHECK (char_length(display_name) <= 64),
      bio text CHECK (char_length(bio) <= 300),
      avatar_media_id uuid,
      cover_media_id uuid,
      location text CHECK (char_length(location) <= 100),
      website text CHECK (char_length(website) <= 200),
      is_private boolean NOT NULL DEFAULT false,
      follower_count integer NOT NULL DEFAULT 0 CHECK (follower_count >= 0),
      following_count integer NOT NULL DEFAULT 0 CHECK (following_count >= 0),
      post_count integer NOT NULL DEFAULT 0 CHECK (post_count >= 0),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      deleted_at timestamptz,
      deleted_by uuid
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX profiles_username_live ON users.profiles (username_lower) WHERE deleted_at IS NULL`.execute(db);

  await sql`
    CREATE TABLE users.follows (
      follower_id uuid NOT NULL REFERENCES users.profiles (id) ON DELETE RESTRICT,
      followee_id uuid NOT NULL REFERENCES users.profiles (id) ON DELETE RESTRICT,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (follower_id, followee_id),
      CHECK (follower_id <> followee_id)
    )`.execute(db);
  await sql`CREATE INDEX follows_followee_idx ON users.follows (followee_id, created_at DESC, follower_id)`.execute(db);
  await sql`CREATE INDEX follows_follower_idx ON users.follows (follower_id, created_at DESC, followee_id)`.execute(db);

  await sql`
    CREATE TABLE users.follow_requests (
      requester_id uuid NOT NULL REFERENCES users.profiles (id) ON DELETE RESTRICT,
      target_id uuid NOT NULL REFERENCES users.profiles (id) ON DELETE RESTRICT,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (requester_id, target_id),
      CHECK (requester_id <> target_id)
    )`.execute(db);
  await sql`CREATE INDEX follow_requests_target_idx ON users.follow_requests (target_id, created_at DESC, requester_id)`.execute(db);

  await sql`
    CREATE TABLE users.blocks (
      blocker_id uuid NOT NULL REFERENCES users.profiles (id) ON DELETE RESTRICT,
      blocked_id uuid NOT NULL REFERENCES users.profiles (id) ON DELETE RESTRICT,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (blocker_id, blocked_id),
      CHECK (blocker_id <> blocked_id)
    )`.execute(db);
  await sql`CREATE INDEX blocks_blocked_idx ON users.blocks (blocked_id, blocker_id)`.execute(db);

  await sql`
    CREATE TABLE users.mutes (
      muter_id uuid NOT NULL REFERENCES users.profiles (id) ON DELETE RESTRICT,
      muted_id uuid NOT NULL REFERENCES users.profiles (id) ON DELETE RESTRICT,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      expires_at timestamptz,
      PRIMARY KEY (muter_id, muted_id),
      CHECK (muter_id <> muted_id)
    )`.execute(db);

  await sql`
    CREATE TABLE users.settings (
      user_id uuid PRIMARY KEY REFERENCES users.profiles (id) ON DELETE RESTRICT,
      language text NOT NULL DEFAULT 'en',
      who_can_message text NOT NULL DEFAULT 'everyone' CHECK (who_can_message IN ('everyone', 'followers', 'nobody')),
      notifications jsonb NOT NULL DEFAULT '{}'::jsonb,
      privacy jsonb NOT NULL DEFAULT '{}'::jsonb,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}
