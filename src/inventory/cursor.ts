import { coreError } from '../errors.js';
import { ID_PATTERN } from './types.js';

/**
 * Opaque keyset cursors: base64url of `{"after": "<last id>"}`. Keyset (not offset) pagination stays
 * correct while rows are inserted and costs the same on page 1 and page 10,000.
 */
export function encodeCursor(afterId: string): string {
  return Buffer.from(JSON.stringify({ after: afterId }), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const bad = () =>
    coreError('BAD_CURSOR', 'cursor is not one this server issued', { field: 'query.cursor' });
  if (cursor.length > 400 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad();
  const after = (parsed as Record<string, unknown>).after;
  if (typeof after !== 'string' || !ID_PATTERN.test(after) || Object.keys(parsed).length !== 1) throw bad();
  return after;
}

export interface Page<T> {
  items: T[];
  /** Present when more items follow; pass it back as `cursor`. */
  next_cursor: string | null;
}

/** Turns `limit + 1` fetched rows into a page and its cursor. */
export function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const hasMore = rows.length > limit;
  const items = hasMore ? rows.slice(0, limit) : rows;
  const last = items[items.length - 1];
  return { items, next_cursor: hasMore && last ? encodeCursor(last.id) : null };
}
