// A Redis client whose keys all live under a unique prefix, deleted when the benchmark ends.
import { randomBytes } from 'node:crypto';
import { connectRedis, createLogger, createRedis } from '@nova/platform';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Calls `fn(redis, prefix)` with a connected client whose keyPrefix is `bench:<label>:<random>:`, then
 * deletes every key under that prefix (whatever `fn` did, even if it threw) and disconnects.
 */
export async function withRedis(label, fn, { log = () => undefined } = {}) {
  const prefix = `bench:${label}:${randomBytes(4).toString('hex')}:`;
  const logger = createLogger({ level: 'silent' });
  const redis = createRedis({ url: REDIS_URL, keyPrefix: prefix, commandTimeoutMs: 3_000, logger });
  // SCAN patterns and the keys it returns are not prefixed, so cleanup uses a client without the prefix.
  const admin = createRedis({ url: REDIS_URL, keyPrefix: '', commandTimeoutMs: 3_000, logger });
  try {
    try {
      await Promise.all([connectRedis(redis), connectRedis(admin)]);
      await admin.ping();
    } catch (err) {
      throw new Error(`cannot reach Redis at ${REDIS_URL} (set REDIS_URL): ${err instanceof Error ? err.message : err}`);
    }
    try {
      return await fn(redis, prefix);
    } finally {
      const deleted = await deleteKeys(admin, prefix);
      log(`deleted ${deleted} Redis key(s) under ${prefix}`);
    }
  } finally {
    redis.disconnect();
    admin.disconnect();
  }
}

async function deleteKeys(admin, prefix) {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await admin.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
