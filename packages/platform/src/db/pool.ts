import pg from 'pg';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import type { PlatformMetrics } from '../metrics/metrics.js';
import type { Logger } from '../logging/logger.js';

export type Db<DB = any> = Kysely<DB>;
export type Tx<DB = any> = Transaction<DB>;
/** Query functions take either the pool-backed Kysely or a transaction as their first argument. */
export type DbOrTx<DB = any> = Kysely<DB> | Transaction<DB>;

export interface ServicePool<DB = any> {
  /** Kysely bound to the service's schema (`withSchema`). */
  db: Kysely<DB>;
  /** Kysely without a default schema (migrations, cross-table admin queries inside the schema). */
  raw: Kysely<DB>;
  pool: pg.Pool;
  close(): Promise<void>;
}

export interface PoolOptions {
  service: string;
  schema: string;
  connectionString: string;
  max: number;
  acquireTimeoutMs: number;
  statementTimeoutMs: number;
  metrics: PlatformMetrics;
  logger: Logger;
}

function errorType(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/timeout exceeded when trying to connect/i.test(msg)) return 'acquire_timeout';
  const code = (err as { code?: string }).code;
  if (code === 'ECONNREFUSED') return 'connection_refused';
  if (code === '28P01' || code === '28000') return 'auth_failed';
  if (code === '53300') return 'too_many_connections';
  if (code === '3D000') return 'database_missing';
  return 'connect_failed';
}

/**
 * One pg pool per service: sized from the pool table, with an acquire timeout, a server-side statement
 * timeout, and the db_pool_* metrics fed from the pool itself.
 */
export function createServicePool<DB = any>(opts: PoolOptions): ServicePool<DB> {
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.max,
    connectionTimeoutMillis: opts.acquireTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: `nova-${opts.service}`,
    ...(opts.statementTimeoutMs > 0 ? { statement_timeout: opts.statementTimeoutMs } : {}),
  });
  const { metrics, service } = opts;
  pool.on('error', (err) => {
    // An idle client lost its connection (server restart, network): the pool drops it and reconnects.
    metrics.dbPoolConnectionErrors.inc({ service, error_type: 'idle_client' });
    opts.logger.warn({ err, service }, 'idle database connection failed');
  });
  metrics.trackPool(service, () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }));

  // Kysely only needs connect() and end(): time every acquire and count its failures.
  const timedPool = {
    async connect() {
      const stop = metrics.dbPoolAcquireDuration.startTimer({ service });
      try {
        return await pool.connect();
      } catch (err) {
        metrics.dbPoolConnectionErrors.inc({ service, error_type: errorType(err) });
        throw err;
      } finally {
        stop();
      }
    },
    end: () => pool.end(),
  };
  const raw = new Kysely<DB>({ dialect: new PostgresDialect({ pool: timedPool as unknown as pg.Pool }) });
  let closed = false;
  return {
    db: raw.withSchema(opts.schema),
    raw,
    pool,
    async close() {
      if (closed) return;
      closed = true;
      metrics.untrackPool(service);
      await raw.destroy();
    },
  };
}
