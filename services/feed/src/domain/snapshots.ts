import { AppError, encodeCursor, decodeCursor, newId } from '@nova/platform';
import type { AppContext } from '../context.js';
import * as sq from '../db/queries/snapshots.js';

/**
 * A ranked list frozen when its first page is served, so that the pages after it neither repeat nor skip an
 * item while new posts arrive or scores move. Only the order is frozen — post ids, 16 bytes each in one Redis
 * string, so a page is one GETRANGE — and every page is screened again when served. Kept in PostgreSQL when
 * Redis cannot take it. The cursor names the snapshot, where it lives and the next offset; a snapshot
 * belongs to the reader it was made for (anonymous readers share the nil owner).
 */
export interface SnapshotCursor {
  id: string;
  store: 'r' | 'p';
  offset: number;
}

const ANONYMOUS = '00000000-0000-0000-0000-000000000000';
const ID_BYTES = 16;
const key = (owner: string, id: string) => `feed:snap:${owner}:${id}`;

export class Snapshots {
  constructor(private readonly ctx: AppContext) {}

  /** Saves an ordered list of post ids; returns where it lives. */
  async save(ownerId: string | undefined, kind: string, postIds: readonly string[]): Promise<Omit<SnapshotCursor, 'offset'>> {
    const owner = ownerId ?? ANONYMOUS;
    const uuid = newId();
    const id = `${kind}-${uuid}`;
    const ttl = this.ctx.config.FEED_SNAPSHOT_TTL_SECONDS;
    try {
      await this.ctx.redis.set(key(owner, id), pack(postIds), 'EX', ttl);
      return { id, store: 'r' };
    } catch (err) {
      this.ctx.metrics.redisFallbacks.inc({ operation: 'snapshot_save' });
      this.ctx.logger.warn({ err }, 'feed snapshot kept in PostgreSQL: Redis unavailable');
      await sq.insertSnapshot(this.ctx.db, uuid, owner, [...postIds], ttl);
      return { id, store: 'p' };
    }
  }

  /** A page of a snapshot's post ids; GONE (410) when it expired, so the client starts again from the first page. */
  async page(ownerId: string | undefined, kind: string, cursor: SnapshotCursor, limit: number): Promise<{ postIds: string[]; next?: SnapshotCursor }> {
    const owner = ownerId ?? ANONYMOUS;
    if (!cursor.id.startsWith(`${kind}-`)) throw invalidCursor();
    let postIds: string[];
    let total: number;
    if (cursor.store === 'r') {
      const k = key(owner, cursor.id);
      const res = await this.ctx.redis.multi().getrangeBuffer(k, cursor.offset * ID_BYTES, (cursor.offset + limit) * ID_BYTES - 1).strlen(k).exec();
      for (const [err] of res ?? []) if (err) throw err;
      const bytes = Number(res![1]![1]);
      if (bytes === 0) throw expired();
      total = bytes / ID_BYTES;
      postIds = unpack(res![0]![1] as Buffer);
    } else {
      const found = await sq.snapshotSlice(this.ctx.db, cursor.id.slice(kind.length + 1), owner, cursor.offset, limit);
      if (!found) throw expired();
      postIds = found.entries as string[];
      total = found.total;
    }
    const nextOffset = cursor.offset + limit;
    return { postIds, ...(nextOffset < total ? { next: { ...cursor, offset: nextOffset } } : {}) };
  }

  /** Forgets a reader's PostgreSQL snapshots (Redis ones expire on their own). */
  async forget(ownerId: string): Promise<void> {
    await sq.deleteOwnerSnapshots(this.ctx.db, ownerId);
  }
}

/** UUIDs as 16 raw bytes each; an empty list is one zero UUID (a Redis key must hold something). */
function pack(ids: readonly string[]): Buffer {
  const list = ids.length > 0 ? ids : [ANONYMOUS];
  return Buffer.concat(list.map((id) => Buffer.from(id.replaceAll('-', ''), 'hex')));
}

function unpack(buf: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i + ID_BYTES <= buf.length; i += ID_BYTES) {
    const h = buf.subarray(i, i + ID_BYTES).toString('hex');
    const id = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    if (id !== ANONYMOUS) out.push(id);
  }
  return out;
}

export function encodeSnapshotCursor(c: SnapshotCursor): string {
  return encodeCursor([c.store, c.id, c.offset]);
}

export function decodeSnapshotCursor(cursor: string): SnapshotCursor {
  const [store, id, offset] = decodeCursor(cursor, ['string', 'string', 'number']) as [string, string, number];
  if ((store !== 'r' && store !== 'p') || !/^[a-z]+-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id) || !Number.isInteger(offset) || offset < 0 || offset > 100_000) throw invalidCursor();
  return { store, id, offset };
}

function invalidCursor(): AppError {
  return new AppError('VALIDATION_FAILED', 'invalid cursor', { details: { field: 'cursor' } });
}

function expired(): AppError {
  return new AppError('GONE', 'this feed snapshot has expired: start again from the first page', { details: { field: 'cursor', reason: 'cursor_expired' } });
}
