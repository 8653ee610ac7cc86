import { AppError, encodeCursor, decodeCursor, newId } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as sq from '../db/queries/snapshots.js';

/**
 * A ranked list frozen when its first page is served, so that the pages after it neither repeat nor skip an
 * item while new posts arrive or scores move. Kept in Redis (a list: each page is one LRANGE), or in
 * PostgreSQL when Redis cannot take it. The cursor names the snapshot, where it lives and the next offset;
 * a snapshot belongs to the reader it was made for (anonymous readers share the nil owner).
 */
export interface SnapshotCursor {
  id: string;
  store: 'r' | 'p';
  offset: number;
}

const ANONYMOUS = '00000000-0000-0000-0000-000000000000';
const key = (owner: string, id: string) => `feed:snap:${owner}:${id}`;

export class Snapshots {
  constructor(private readonly ctx: AppContext) {}

  /** Saves a ranked list; returns where it lives. */
  async save<T>(ownerId: string | undefined, kind: string, items: readonly T[]): Promise<Omit<SnapshotCursor, 'offset'>> {
    const owner = ownerId ?? ANONYMOUS;
    const id = `${kind}-${newId()}`;
    const ttl = this.ctx.config.FEED_SNAPSHOT_TTL_SECONDS;
    try {
      const k = key(owner, id);
      const multi = this.ctx.redis.multi().del(k);
      if (items.length > 0) multi.rpush(k, ...items.map((i) => JSON.stringify(i)));
      else multi.rpush(k, 'null');
      const res = await multi.expire(k, ttl).exec();
      for (const [err] of res ?? []) if (err) throw err;
      return { id, store: 'r' };
    } catch (err) {
      this.ctx.logger.warn({ err }, 'feed snapshot kept in PostgreSQL: Redis unavailable');
      this.ctx.metrics.redisFallbacks.inc({ operation: 'snapshot_save' });
      await sq.insertSnapshot(this.ctx.db, newUuidPart(id), owner, [...items], ttl);
      return { id, store: 'p' };
    }
  }

  /** A page of a snapshot; GONE (410) when it expired, so the client starts again from the first page. */
  async page<T>(ownerId: string | undefined, kind: string, cursor: SnapshotCursor, limit: number): Promise<{ items: T[]; next?: SnapshotCursor }> {
    const owner = ownerId ?? ANONYMOUS;
    if (!cursor.id.startsWith(`${kind}-`)) throw invalidCursor();
    let items: T[];
    let total: number;
    if (cursor.store === 'r') {
      const k = key(owner, cursor.id);
      const res = await this.ctx.redis.multi().lrange(k, cursor.offset, cursor.offset + limit - 1).llen(k).exec();
      for (const [err] of res ?? []) if (err) throw err;
      total = Number(res![1]![1]);
      if (total === 0) throw expired();
      items = (res![0]![1] as string[]).filter((s) => s !== 'null').map((s) => JSON.parse(s) as T);
    } else {
      const found = await sq.snapshotSlice(this.ctx.db, newUuidPart(cursor.id), owner, cursor.offset, limit);
      if (!found) throw expired();
      items = found.entries as T[];
      total = found.total;
    }
    const nextOffset = cursor.offset + limit;
    return { items, ...(nextOffset < total ? { next: { ...cursor, offset: nextOffset } } : {}) };
  }

  /** Forgets a reader's PostgreSQL snapshots (Redis ones expire on their own). */
  async forget(ownerId: string): Promise<void> {
    await sq.deleteOwnerSnapshots(this.ctx.db, ownerId);
  }
}

/** `<kind>-<uuid>` → the uuid (the PostgreSQL key). */
function newUuidPart(id: string): string {
  return id.slice(id.indexOf('-') + 1);
}

export function encodeSnapshotCursor(c: SnapshotCursor): string {
  return encodeCursor([c.store, c.id, c.offset]);
}

export function decodeSnapshotCursor(cursor: string): SnapshotCursor {
  const [store, id, offset] = decodeCursor(cursor, ['string', 'string', 'number']) as [string, string, number];
  if ((store !== 'r' && store !== 'p') || !/^[a-z]+-[0-9a-f-]{36}$/.test(id) || !Number.isInteger(offset) || offset < 0 || offset > 100_000) throw invalidCursor();
  return { store, id, offset };
}

function invalidCursor(): AppError {
  return new AppError('VALIDATION_FAILED', 'invalid cursor', { details: { field: 'cursor' } });
}

function expired(): AppError {
  return new AppError('GONE', 'this feed snapshot has expired: start again from the first page', { details: { field: 'cursor', reason: 'cursor_expired' } });
}
