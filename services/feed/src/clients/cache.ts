import { LRUCache } from 'lru-cache';

/**
 * A short-lived, bounded in-process cache in front of a batched by-id lookup: ids seen within `ttlMs` are
 * answered from memory, the rest are asked for in one call. Absent answers (deleted, unknown) are not
 * cached. Hydration only: what a reader may see is decided by the read model before hydration, so a cached
 * post or profile can be a few seconds stale in its text or counters, never in who may see it.
 */
export function cachedByIds<V extends object>(lookup: (ids: readonly string[]) => Promise<Map<string, V>>, opts: { ttlMs: number; max: number }) {
  if (opts.ttlMs <= 0) return lookup;
  const cache = new LRUCache<string, V>({ max: opts.max, ttl: opts.ttlMs });
  return async (ids: readonly string[]): Promise<Map<string, V>> => {
    const out = new Map<string, V>();
    const missing: string[] = [];
    for (const id of new Set(ids)) {
      const hit = cache.get(id);
      if (hit) out.set(id, hit);
      else missing.push(id);
    }
    if (missing.length > 0) {
      for (const [id, value] of await lookup(missing)) {
        cache.set(id, value);
        out.set(id, value);
      }
    }
    return out;
  };
}
