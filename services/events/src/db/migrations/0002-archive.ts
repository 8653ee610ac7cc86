import { sql, type Kysely } from '@nova/platform';

/** The audit log: every event published on the bus, as it was published. Append-only. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE events.archive (
      id uuid PRIMARY KEY,
      type text NOT NULL,
      version integer NOT NULL,
      source text NOT NULL,
      subject text NOT NULL,
      nats_subject text NOT NULL,
      occurred_at timestamptz NOT NULL,
      correlation_id text,
      data jsonb NOT NULL,
      archived_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX archive_occurred_idx ON events.archive (occurred_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX archive_type_idx ON events.archive (type, occurred_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX archive_source_idx ON events.archive (source, occurred_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX archive_subject_idx ON events.archive (subject, occurred_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX archive_correlation_idx ON events.archive (correlation_id) WHERE correlation_id IS NOT NULL`.execute(db);
}
