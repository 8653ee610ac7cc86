import { sql, type Kysely } from '@nova/platform';

/**
 * Conversations (direct and group), members with read/delivered positions, messages with a gap-free
 * per-conversation sequence and bodies encrypted at rest, and reactions. Foreign keys are RESTRICT;
 * conversations and messages are soft-deleted, members leave (left_at/left_by).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE messaging.conversations (
      id uuid PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('direct', 'group')),
      mode text NOT NULL DEFAULT 'standard' CHECK (mode IN ('standard', 'e2ee')),
      title text CHECK (char_length(title) BETWEEN 1 AND 100),
      direct_key text UNIQUE,
      created_by uuid NOT NULL,
      last_seq bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
      last_message_at timestamptz,
      activity_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      deleted_at timestamptz,
      deleted_by uuid,
      CHECK ((kind = 'direct') = (direct_key IS NOT NULL)),
      CHECK (kind = 'group' OR title IS NULL)
    )`.execute(db);

  await sql`
    CREATE TABLE messaging.members (
      conversation_id uuid NOT NULL REFERENCES messaging.conversations (id) ON DELETE RESTRICT,
      user_id uuid NOT NULL,
      role text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
      visible_from_seq bigint NOT NULL DEFAULT 0 CHECK (visible_from_seq >= 0),
      last_read_seq bigint NOT NULL DEFAULT 0 CHECK (last_read_seq >= 0),
      last_delivered_seq bigint NOT NULL DEFAULT 0 CHECK (last_delivered_seq >= 0),
      joined_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      added_by uuid,
      left_at timestamptz,
      left_by uuid,
      PRIMARY KEY (conversation_id, user_id)
    )`.execute(db);
  await sql`CREATE INDEX members_user_idx ON messaging.members (user_id) WHERE left_at IS NULL`.execute(db);

  await sql`
    CREATE TABLE messaging.messages (
      id uuid PRIMARY KEY,
      conversation_id uuid NOT NULL REFERENCES messaging.conversations (id) ON DELETE RESTRICT,
      seq bigint NOT NULL CHECK (seq > 0),
      sender_id uuid NOT NULL,
      body_sealed text,
      body_key_id text,
      search_terms text[] NOT NULL DEFAULT '{}',
      client_id text CHECK (char_length(client_id) BETWEEN 1 AND 100),
      reply_to_id uuid REFERENCES messaging.messages (id) ON DELETE RESTRICT,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      edited_at timestamptz,
      deleted_at timestamptz,
      deleted_by uuid,
      UNIQUE (conversation_id, seq),
      CHECK ((body_sealed IS NULL) = (body_key_id IS NULL)),
      CHECK (deleted_at IS NOT NULL OR body_sealed IS NOT NULL)
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX messages_client_id ON messaging.messages (conversation_id, sender_id, client_id) WHERE client_id IS NOT NULL`.execute(db);
  await sql`CREATE INDEX messages_sender_idx ON messaging.messages (conversation_id, sender_id, seq)`.execute(db);
  await sql`CREATE INDEX messages_search_idx ON messaging.messages USING gin (search_terms) WHERE deleted_at IS NULL`.execute(db);
  await sql`CREATE INDEX messages_key_idx ON messaging.messages (body_key_id, id) WHERE body_key_id IS NOT NULL`.execute(db);

  await sql`
    CREATE TABLE messaging.reactions (
      message_id uuid NOT NULL REFERENCES messaging.messages (id) ON DELETE RESTRICT,
      user_id uuid NOT NULL,
      emoji text NOT NULL CHECK (char_length(emoji) BETWEEN 1 AND 32),
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (message_id, user_id, emoji)
    )`.execute(db);
}
