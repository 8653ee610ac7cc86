import pg from 'pg';
import type { Redis } from 'ioredis';
import { redactUrl } from '../logging/logger.js';

/** A start-up failure with a message meant for a person: what is wrong and how to fix it. No stack trace. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

const HOW_TO_GET_THEM =
  'Install and start the local dependencies with `sudo scripts/dev-deps.sh` (Debian/Ubuntu) or `docker compose up -d`.';

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ? `${e.code}: ${e.message}` : String(e.message ?? err);
}

/**
 * Makes sure the database exists (creating it when the server is reachable but the database is not, so a
 * fresh machine needs no manual step), and fails with a clear message when PostgreSQL cannot be reached.
 */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const shown = redactUrl(databaseUrl);
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.end();
    return;
  } catch (err) {
    await client.end().catch(() => undefined);
    if ((err as { code?: string }).code !== '3D000') {
      throw new StartupError(`PostgreSQL is not reachable at ${shown} (${describe(err)}).\n${HOW_TO_GET_THEM} Or set DATABASE_URL.`);
    }
  }
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } catch (err) {
    if ((err as { code?: string }).code !== '42P04') {
      throw new StartupError(`database "${name}" does not exist on ${shown} and could not be created (${describe(err)}). Create it, or set DATABASE_URL.`);
    }
  } finally {
    await admin.end().catch(() => undefined);
  }
}

export async function checkRedis(redis: Redis, url: string): Promise<void> {
  try {
    if (redis.status === 'wait') await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new StartupError(`Redis is not reachable at ${redactUrl(url)} (${describe(err)}).\n${HOW_TO_GET_THEM} Or set REDIS_URL.`);
  }
}

export function natsUnreachable(servers: string, err: unknown): StartupError {
  return new StartupError(`NATS is not reachable at ${servers} (${describe(err)}).\n${HOW_TO_GET_THEM} Or set NATS_URL.`);
}

export function jetStreamMissing(servers: string): StartupError {
  return new StartupError(`NATS at ${servers} runs without JetStream. Start it with \`nats-server -js\`.\n${HOW_TO_GET_THEM}`);
}
