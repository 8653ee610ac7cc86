import { sql, type Kysely } from 'kysely';

/**
 * The tables every service needs for events, created by each service's first migration in its own schema:
 * - outbox: events written in the same transaction as the state change, published by the relay;
 * - handled_events: ids of events a consumer has applied, written in the same transaction as the effect.
 */
export async function createEventTables(db: Kysely<any>, schema: string): Promise<void> {
  const s = sql.id(schema);
  await sql`
    CREATE TABLE ${s}.outbox (
      id uuid PRIMARY KEY,
      subject text NOT NULL,
      event_type text NOT NULL,
      envelope jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      published_at timestamptz,
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      last_error text
    )`.execute(db);
  await sql`CREATE INDEX outbox_unpublished_idx ON ${s}.outbox (next_attempt_at, created_at) WHERE published_at IS NULL`.execute(db);
  await sql`CREATE INDEX outbox_published_idx ON ${s}.outbox (published_at) WHERE published_at IS NOT NULL`.execute(db);
  await sql`
    CREATE TABLE ${s}.handled_events (
      consumer text NOT NULL,
      event_id uuid NOT NULL,
      handled_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (consumer, event_id)
    )`.execute(db);
}
