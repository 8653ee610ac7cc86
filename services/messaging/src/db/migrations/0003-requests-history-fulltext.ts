import { sql, type Kysely } from '@nova/platform';

/**
 * Issue 7, second pass:
 * - groups have a `name` (was `title`) and an avatar (a media id);
 * - members have a status (`active`; `request`: a direct conversation the member has not accepted yet;
 *   `declined`: a request the member deleted), and mute and archive flags of their own;
 * - messages have a kind (`user`, or `system`: sent by another service, no user sender), media ids, and a
 *   full-text vector (`search_vector`, a tsvector of the keyed word hashes, GIN-indexed);
 * - edits keep the versions they replace (`message_edits`, sealed like bodies);
 * - delete-for-me (`hidden_messages`), one reaction per member and message, and deleted accounts.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE messaging.conversations RENAME COLUMN title TO name`.execute(db);
  await sql`ALTER TABLE messaging.conversations ADD COLUMN avatar_media_id uuid`.execute(db);
  await sql`ALTER TABLE messaging.conversations ADD CONSTRAINT conversations_avatar_group CHECK (kind = 'group' OR avatar_media_id IS NULL)`.execute(db);

  await sql`ALTER TABLE messaging.members ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'request', 'declined'))`.execute(db);
  await sql`ALTER TABLE messaging.members ADD COLUMN muted boolean NOT NULL DEFAULT false`.execute(db);
  await sql`ALTER TABLE messaging.members ADD COLUMN archived boolean NOT NULL DEFAULT false`.execute(db);
  await sql`CREATE INDEX members_requests_idx ON messaging.members (user_id) WHERE left_at IS NULL AND status = 'request'`.execute(db);

  await sql`ALTER TABLE messaging.messages ADD COLUMN kind text NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'system'))`.execute(db);
  await sql`ALTER TABLE messaging.messages ADD COLUMN system_sender text CHECK (char_length(system_sender) BETWEEN 1 AND 64)`.execute(db);
  await sql`ALTER TABLE messaging.messages ALTER COLUMN sender_id DROP NOT NULL`.execute(db);
  await sql`ALTER TABLE messaging.messages ADD CONSTRAINT messages_sender_kind CHECK ((kind = 'system') = (sender_id IS NULL) AND (kind = 'system') = (system_sender IS NOT NULL))`.execute(db);
  await sql`ALTER TABLE messaging.messages ADD COLUMN media_ids uuid[] NOT NULL DEFAULT '{}' CHECK (cardinality(media_ids) <= 10)`.execute(db);
  await sql`ALTER TABLE messaging.messages DROP CONSTRAINT messages_check1`.execute(db);
  await sql`ALTER TABLE messaging.messages ADD CONSTRAINT messages_content CHECK (deleted_at IS NOT NULL OR body_sealed IS NOT NULL OR cardinality(media_ids) > 0)`.execute(db);
  await sql`CREATE UNIQUE INDEX messages_system_client_id ON messaging.messages (conversation_id, system_sender, client_id) WHERE kind = 'system' AND client_id IS NOT NULL`.execute(db);
  // Full text: the keyed word hashes as tsvector lexemes (array_to_tsvector, no parser, no stemming).
  await sql`ALTER TABLE messaging.messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (array_to_tsvector(search_terms)) STORED`.execute(db);
  await sql`DROP INDEX messaging.messages_search_idx`.execute(db);
  await sql`CREATE INDEX messages_search_idx ON messaging.messages USING gin (search_vector) WHERE deleted_at IS NULL`.execute(db);

  await sql`
    CREATE TABLE messaging.message_edits (
      id uuid PRIMARY KEY,
      message_id uuid NOT NULL REFERENCES messaging.messages (id) ON DELETE RESTRICT,
      body_sealed text,
      body_key_id text,
      media_ids uuid[] NOT NULL DEFAULT '{}',
      written_at timestamptz NOT NULL,
      replaced_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      CHECK ((body_sealed IS NULL) = (body_key_id IS NULL))
    )`.execute(db);
  await sql`CREATE INDEX message_edits_message_idx ON messaging.message_edits (message_id, replaced_at)`.execute(db);
  await sql`CREATE INDEX message_edits_key_idx ON messaging.message_edits (body_key_id, id) WHERE body_key_id IS NOT NULL`.execute(db);

  await sql`
    CREATE TABLE messaging.hidden_messages (
      user_id uuid NOT NULL,
      message_id uuid NOT NULL REFERENCES messaging.messages (id) ON DELETE RESTRICT,
      hidden_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (user_id, message_id)
    )`.execute(db);

  // One reaction per member and message: keep each member's latest.
  await sql`
    DELETE FROM messaging.reactions r USING messaging.reactions newer
    WHERE r.message_id = newer.message_id AND r.user_id = newer.user_id AND (r.created_at, r.emoji) < (newer.created_at, newer.emoji)`.execute(db);
  await sql`ALTER TABLE messaging.reactions DROP CONSTRAINT reactions_pkey`.execute(db);
  await sql`ALTER TABLE messaging.reactions ADD PRIMARY KEY (message_id, user_id)`.execute(db);

  await sql`
    CREATE TABLE messaging.deleted_accounts (
      user_id uuid PRIMARY KEY,
      deleted_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )`.execute(db);
}
