import { AppError } from '../errors/app-error.js';

/**
 * Opaque keyset-pagination cursors: the sort key of the last row returned, base64url-encoded JSON.
 * Lists that can grow page with `WHERE (sort, id) < (cursor.sort, cursor.id)`, never OFFSET.
 */
export function encodeCursor(values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(cursor: string, shape: readonly ('string' | 'number')[]): (string | number)[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new AppError('VALIDATION_FAILED', 'invalid cursor');
  }
  if (!Array.isArray(parsed) || parsed.length !== shape.length || parsed.some((v, i) => typeof v !== shape[i])) {
    throw new AppError('VALIDATION_FAILED', 'invalid cursor');
  }
  return parsed as (string | number)[];
}

/**
 * A keyset position of most lists: a row's timestamp as PostgreSQL keeps it (text with microseconds, so rows
 * written within the same millisecond are neither skipped nor repeated) and its UUID.
 */
export interface TimeIdPosition {
  at: string;
  id: string;
}

const POSITION_AT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

export function encodePosition(at: string, id: string): string {
  return encodeCursor([at, id]);
}

/** The position a cursor carries; anything edited or foreign is a 400 VALIDATION_FAILED, never a database error. */
export function decodePosition(cursor: string | undefined): TimeIdPosition | undefined {
  if (cursor === undefined) return undefined;
  const [at, id] = decodeCursor(cursor, ['string', 'string']) as [string, string];
  if (!POSITION_AT.test(at) || Number.isNaN(Date.parse(at)) || !UUID.test(id)) {
    throw new AppError('VALIDATION_FAILED', 'invalid cursor', { details: { field: 'cursor' } });
  }
  return { at, id: id.toLowerCase() };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A page size from a request: `fallback` when absent, else an integer in 1..max (400 otherwise). */
export function pageLimit(limit: number | undefined, fallback: number, max: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw new AppError('VALIDATION_FAILED', `limit must be between 1 and ${max}`, { details: { field: 'limit' } });
  return limit;
}
