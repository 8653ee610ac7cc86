import { sql, type Kysely } from '@nova/platform';

/**
 * Accounts, sessions, refresh tokens, signing keys, one-time action tokens, backup codes and OAuth
 * identities. Foreign keys are RESTRICT: accounts are soft-deleted, never removed under their sessions.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE auth.users (
      id uuid PRIMARY KEY,
      email text,
      email_normalized text,
      email_verified_at timestamptz,
      username text NOT NULL,
      username_lower text NOT NULL,
      password_hash text,
      role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'moderator', 'admin')),
      totp_secret_enc text,
      totp_enabled_at timestamptz,
      totp_last_step bigint,
      failed_login_count integer NOT NULL DEFAULT 0,
      locked_until timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      deleted_at timestamptz,
      deleted_by uuid,
      -- set once the retention after deletion has passed: the email and username are free again
      released_at timestamptz,
      CHECK ((email IS NULL) = (email_normalized IS NULL))
    )`.execute(db);
  // Unique among live accounts and deleted ones still within their retention.
  await sql`CREATE UNIQUE INDEX users_email_unique ON auth.users (email_normalized) WHERE released_at IS NULL`.execute(db);
  await sql`CREATE UNIQUE INDEX users_username_unique ON auth.users (username_lower) WHERE released_at IS NULL`.execute(db);
  await sql`CREATE INDEX users_deleted_idx ON auth.users (deleted_at) WHERE deleted_at IS NOT NULL AND released_at IS NULL`.execute(db);

  await sql`
    CREATE TABLE auth.sessions (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE RESTRICT,
      device text,
      user_agent text,
      ip text,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_seen_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz,
      revoked_reason text
    )`.execute(db);
  await sql`CREATE INDEX sessions_user_idx ON auth.sessions (user_id, created_at DESC) WHERE revoked_at IS NULL`.execute(db);

  await sql`
    CREATE TABLE auth.refresh_tokens (
      id uuid PRIMARY KEY,
      session_id uuid NOT NULL REFERENCES auth.sessions (id) ON DELETE RESTRICT,
      parent_id uuid REFERENCES auth.refresh_tokens (id) ON DELETE RESTRICT,
      issued_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      rotated_at timestamptz
    )`.execute(db);
  await sql`CREATE INDEX refresh_tokens_session_idx ON auth.refresh_tokens (session_id)`.execute(db);

  await sql`
    CREATE TABLE auth.signing_keys (
      kid text PRIMARY KEY,
      public_jwk jsonb NOT NULL,
      private_key_enc text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      activates_at timestamptz NOT NULL DEFAULT now(),
      retired_at timestamptz
    )`.execute(db);

  await sql`
    CREATE TABLE auth.action_tokens (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE RESTRICT,
      purpose text NOT NULL CHECK (purpose IN ('password_reset', 'email_verify')),
      token_hash text NOT NULL UNIQUE,
      email text,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      used_at timestamptz
    )`.execute(db);
  await sql`CREATE INDEX action_tokens_user_idx ON auth.action_tokens (user_id, purpose) WHERE used_at IS NULL`.execute(db);

  await sql`
    CREATE TABLE auth.backup_codes (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE RESTRICT,
      code_hash text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      used_at timestamptz
    )`.execute(db);
  await sql`CREATE INDEX backup_codes_user_idx ON auth.backup_codes (user_id) WHERE used_at IS NULL`.execute(db);

  await sql`
    CREATE TABLE auth.oauth_identities (
      id uuid PRIMARY KEY,
      provider text NOT NULL CHECK (provider IN ('google', 'facebook', 'apple', 'wechat')),
      provider_subject text NOT NULL,
      user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE RESTRICT,
      email text,
      email_verified boolean NOT NULL DEFAULT false,
      access_token_enc text,
      refresh_token_enc text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      deleted_at timestamptz,
      deleted_by uuid
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX oauth_identities_subject_unique ON auth.oauth_identities (provider, provider_subject) WHERE deleted_at IS NULL`.execute(db);
  await sql`CREATE INDEX oauth_identities_user_idx ON auth.oauth_identities (user_id)`.execute(db);
}
