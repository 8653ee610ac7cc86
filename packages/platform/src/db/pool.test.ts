import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '@nova/testing';
import { computeBudget, createLogger, createMetrics, createServicePool, migrateService, sql, type Migration } from '../index.js';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

const logger = createLogger({ level: 'silent' });

describe('service pool', () => {
  it('gives up acquiring after the acquire timeout and counts it', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const pool = createServicePool({ service: 'demo', schema: 'public', connectionString: env.databaseUrl, max: 1, acquireTimeoutMs: 300, statementTimeoutMs: 0, metrics, logger });
    try {
      const held = pool.db.connection().execute(async (conn) => {
        await sql`SELECT pg_sleep(1.5)`.execute(conn);
      });
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      await expect(sql`SELECT 1`.execute(pool.db)).rejects.toThrow(/timeout/i);
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(250);
      expect(waited).toBeLessThan(1_400);
      await held;
      const text = await metrics.registry.metrics();
      expect(text).toContain('db_pool_connection_errors_total{service="demo",error_type="acquire_timeout"} 1');
      expect(text).toMatch(/db_pool_acquire_duration_seconds_count\{service="demo"\} [2-9]/);
      expect(text).toContain('db_pool_connections{service="demo",state="total"} 1');
    } finally {
      await pool.close();
    }
  });

  it('applies a statement timeout on every pooled connection', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const pool = createServicePool({ service: 'demo2', schema: 'public', connectionString: env.databaseUrl, max: 1, acquireTimeoutMs: 1_000, statementTimeoutMs: 200, metrics, logger });
    try {
      await expect(sql`SELECT pg_sleep(2)`.execute(pool.db)).rejects.toThrow(/statement timeout/);
    } finally {
      await pool.close();
    }
  });
});

describe('migrations', () => {
  it('applies a service\'s migrations in its own schema, once, in order', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const pool = createServicePool({ service: 'mig', schema: 'mig', connectionString: env.databaseUrl, max: 2, acquireTimeoutMs: 1_000, statementTimeoutMs: 0, metrics, logger });
    const migrations: Record<string, Migration> = {
      '0001-a': { up: async (db) => void (await sql`CREATE TABLE mig.things (id int PRIMARY KEY)`.execute(db)) },
      '0002-b': { up: async (db) => void (await sql`ALTER TABLE mig.things ADD COLUMN name text`.execute(db)) },
    };
    try {
      const first = await migrateService(pool.raw, 'mig', migrations);
      expect(first.results?.map((r) => r.migrationName)).toEqual(['0001-a', '0002-b']);
      const again = await migrateService(pool.raw, 'mig', migrations);
      expect(again.results).toEqual([]);
      const tables = await sql<{ table_name: string }>`SELECT table_name FROM information_schema.tables WHERE table_schema = 'mig' ORDER BY 1`.execute(pool.raw);
      expect(tables.rows.map((r) => r.table_name)).toEqual(['kysely_migration', 'kysely_migration_lock', 'things']);
    } finally {
      await pool.close();
    }
  });

  it('reports which migration failed and leaves no half-applied migration behind', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const pool = createServicePool({ service: 'bad', schema: 'bad', connectionString: env.databaseUrl, max: 2, acquireTimeoutMs: 1_000, statementTimeoutMs: 0, metrics, logger });
    const migrations: Record<string, Migration> = {
      '0001-ok': { up: async (db) => void (await sql`CREATE TABLE bad.t (id int)`.execute(db)) },
      '0002-broken': {
        up: async (db) => {
          await sql`CREATE TABLE bad.half (id int)`.execute(db);
          await sql`ALTER TABLE bad.nope ADD COLUMN x int`.execute(db);
        },
      },
    };
    try {
      await expect(migrateService(pool.raw, 'bad', migrations)).rejects.toThrow(/migration of schema bad failed \(0002-broken\)/);
      const half = await sql<{ n: number }>`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'bad' AND table_name = 'half'`.execute(pool.raw);
      expect(half.rows[0]?.n).toBe(0);
    } finally {
      await pool.close();
    }
  });
});

describe('pool budget arithmetic', () => {
  it('fits when the pools leave the reserve free, and not otherwise', () => {
    expect(computeBudget({ a: 40, b: 40 }, 100, 20).fits).toBe(true);
    const over = computeBudget({ a: 40, b: 41 }, 100, 20);
    expect(over).toMatchObject({ fits: false, total: 81, available: 80 });
  });
});
