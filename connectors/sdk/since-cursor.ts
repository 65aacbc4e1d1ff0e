import type { Cursor } from './connector.js';

/**
 * The committed cursor of a connector that filters its source by update time: `{since}`, the ISO instant
 * before which every change is stored. Shared by the connectors that page by number, offset or token and so
 * cannot resume mid-run from anything but a time.
 */
export function sinceOf(cursor: Cursor | null): string | null {
  return cursor && typeof cursor === 'object' && !Array.isArray(cursor) && typeof cursor.since === 'string'
    ? cursor.since
    : null;
}

/** Orders two `{since}` cursors; ISO instants of one format order as text. */
export function compareSinceCursors(a: Cursor, b: Cursor): number {
  const [x, y] = [sinceOf(a) ?? '', sinceOf(b) ?? ''];
  return x === y ? 0 : x < y ? -1 : 1;
}
