import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../logging/logger.js';

export type { Redis };

export interface RedisClientOptions {
  url: string;
  keyPrefix: string;
  commandTimeoutMs: number;
  logger: Logger;
  /** Extra ioredis options (tests shorten timeouts). */
  overrides?: RedisOptions;
}

/**
 * ioredis with a command timeout and bounded retries: a command fails after `commandTimeoutMs` instead of
 * waiting forever, is retried at most twice on a broken connection, and reconnects with capped backoff.
 * With the offline queue off, commands issued while disconnected fail at once (callers decide: a
 * fail-open rate limit admits, a fail-closed one refuses).
 */
export function createRedis(opts: RedisClientOptions): Redis {
  const client = new Redis(opts.url, {
    keyPrefix: opts.keyPrefix,
    commandTimeout: opts.commandTimeoutMs,
    connectTimeout: opts.commandTimeoutMs,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: false,
    lazyConnect: true,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2_000),
    ...opts.overrides,
  });
  let lastLog = 0;
  client.on('error', (err) => {
    // ioredis emits an error for every failed reconnect; log at most one every 5 s.
    const now = Date.now();
    if (now - lastLog > 5_000) {
      lastLog = now;
      opts.logger.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'redis connection error');
    }
  });
  return client;
}

/** Connects a lazily created client, failing within the command timeout. */
export async function connectRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') return;
  if (client.status === 'wait') await client.connect();
  else await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('end', () => reject(new Error('redis connection ended')));
  });
}
