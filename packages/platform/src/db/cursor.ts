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
