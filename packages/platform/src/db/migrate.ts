import { Migrator, sql, type Kysely, type Migration, type MigrationResultSet } from 'kysely';

export type { Migration };

/**
 * Runs one service's ordered migrations inside its own schema. Kysely's migrator keeps its bookkeeping
 * tables in that schema too and takes a lock, so concurrent replicas migrate once.
 */
export async function migrateService(raw: Kysely<any>, schema: string, migrations: Record<string, Migration>): Promise<MigrationResultSet> {
  await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(schema)}`.execute(raw);
  const migrator = new Migrator({
    db: raw,
    provider: { getMigrations: async () => migrations },
    migrationTableSchema: schema,
    migrationTableName: 'kysely_migration',
    migrationLockTableName: 'kysely_migration_lock',
  });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    const name = failed ? ` (${failed.migrationName})` : '';
    throw new Error(`migration of schema ${schema} failed${name}: ${(result.error as Error).message}`, { cause: result.error });
  }
  return result;
}
