import pg from 'pg';
import { SERVICES, type ServiceName } from '../runtime/services.js';

export interface PoolBudget {
  pools: Record<string, number>;
  total: number;
  maxConnections: number;
  reserve: number;
  available: number;
  fits: boolean;
}

/** Pool size of a service: its DB_POOL_MAX_<NAME> override, else the built-in table. */
export function poolSizeFor(service: ServiceName, overrides: Record<string, unknown>): number {
  const override = overrides[`DB_POOL_MAX_${service.toUpperCase()}`];
  return typeof override === 'number' && override > 0 ? override : SERVICES[service].poolMax;
}

export function computeBudget(pools: Record<string, number>, maxConnections: number, reserve: number): PoolBudget {
  const total = Object.values(pools).reduce((a, b) => a + b, 0);
  const available = maxConnections - reserve;
  return { pools, total, maxConnections, reserve, available, fits: total <= available };
}

export async function readMaxConnections(connectionString: string): Promise<number> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const res = await client.query<{ max_connections: string }>('SHOW max_connections');
    return Number(res.rows[0]?.max_connections);
  } finally {
    await client.end();
  }
}

export function describeBudget(b: PoolBudget): string {
  const parts = Object.entries(b.pools).map(([s, n]) => `${s}=${n}`).join(', ');
  return (
    `database pools need ${b.total} connections (${parts}) but the server allows ${b.maxConnections} ` +
    `minus a reserve of ${b.reserve} = ${b.available}. Lower DB_POOL_MAX_<SERVICE>, lower DB_POOL_RESERVE, ` +
    `or raise max_connections on the PostgreSQL server.`
  );
}
