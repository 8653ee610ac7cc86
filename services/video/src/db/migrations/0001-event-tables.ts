import { createEventTables, type Kysely } from '@nova/platform';

export async function up(db: Kysely<unknown>): Promise<void> {
  await createEventTables(db, 'video');
}
