import { sql, type Kysely } from '@nova/platform';

/**
 * Issue 8, end-to-end encryption: the key server and device envelopes.
 * - `e2ee_accounts`: one identity key per account (libsignal's serialized Curve25519 key, 0x05 ‖ 32 bytes);
 * - `devices`: a user's devices (device id 1 = primary, 2-127 linked; at most 10 live), each bound to the
 *   session that registered it, with its registration id and its signed EC prekey and signed Kyber
 *   last-resort prekey (null until the first key upload); soft-deleted (`removed_at`, `removed_by`);
 * - `one_time_prekeys`: one-time EC (`ec`) and Kyber (`kyber`) prekeys, deleted as they are claimed;
 * - `envelopes`: the per-device queue of opaque ciphertexts, deleted on acknowledgement or after the TTL.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE messaging.e2ee_accounts (
      user_id uuid PRIMARY KEY,
      identity_key bytea NOT NULL CHECK (octet_length(identity_key) = 33),
      identity_changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      created_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )`.execute(db);
  await sql`
    CREATE TABLE messaging.devices (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES messaging.e2ee_accounts (user_id) ON DELETE RESTRICT,
      device_id integer NOT NULL CHECK (device_id BETWEEN 1 AND 127),
      session_id uuid NOT NULL,
      registration_id integer NOT NULL CHECK (registration_id BETWEEN 1 AND 16380),
      name text CHECK (char_length(name) <= 64),
      signed_prekey_id integer,
      signed_prekey bytea,
      signed_prekey_signature bytea,
      kyber_last_resort_id integer,
      kyber_last_resort bytea,
      kyber_last_resort_signature bytea,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      removed_at timestamptz,
      removed_by uuid,
      CHECK ((removed_at IS NULL) = (removed_by IS NULL)),
      CHECK ((signed_prekey IS NULL) = (kyber_last_resort IS NULL))
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX devices_live_device_id ON messaging.devices (user_id, device_id) WHERE removed_at IS NULL`.execute(db);
  await sql`CREATE UNIQUE INDEX devices_live_session ON messaging.devices (session_id) WHERE removed_at IS NULL`.execute(db);
  await sql`
    CREATE TABLE messaging.one_time_prekeys (
      device uuid NOT NULL REFERENCES messaging.devices (id) ON DELETE RESTRICT,
      kind text NOT NULL CHECK (kind IN ('ec', 'kyber')),
      key_id integer NOT NULL CHECK (key_id >= 0),
      public_key bytea NOT NULL,
      signature bytea,
      PRIMARY KEY (device, kind, key_id),
      CHECK ((kind = 'kyber') = (signature IS NOT NULL))
    )`.execute(db);
  await sql`
    CREATE TABLE messaging.envelopes (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      recipient_device uuid NOT NULL REFERENCES messaging.devices (id) ON DELETE RESTRICT,
      sender_id uuid NOT NULL,
      sender_device_id integer NOT NULL,
      conversation_id uuid NOT NULL REFERENCES messaging.conversations (id) ON DELETE RESTRICT,
      type smallint NOT NULL CHECK (type BETWEEN 1 AND 255),
      content bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )`.execute(db);
  await sql`CREATE INDEX envelopes_recipient_idx ON messaging.envelopes (recipient_device, id)`.execute(db);
  await sql`CREATE INDEX envelopes_created_idx ON messaging.envelopes (created_at)`.execute(db);
}
