import type { Cursor, Json } from './connector.js';

/**
 * Where a connector is in a walk of its source, kept in its committed cursor beside its own update-time part.
 *
 * A walk is one pass over the source, from the since-filter a run computed (the committed update time minus
 * the look-back, or the very beginning for a source without one) to its last page. A poll run reads at most a
 * few hundred pages, so a long walk takes several runs; each page's cursor holds where the walk goes on
 * (`resume`: the next page number, offset, token or link, owned by the connector), committed with the page's
 * records, so the next run — a continuation, or a run after a crash — carries the walk on from there instead of
 * going back to its first page. The last page's cursor holds no `resume`: the next run begins a new walk.
 *
 * Ordering (`compareWalks`): by walk number, then by pages read in that walk. Every page of a walk counts one
 * more than the page before, so its cursor is after the one before it, whatever the source's own positions do
 * (a token has no order; a look-back re-reads times the update-time part already passed); the first page of
 * walk n+1 is after every cursor of walk n, its last page included, so the cursor moves forward across the end
 * of one walk and the start of the next. A batch repeated or arriving late carries a lower (walk, pages) and
 * moves nothing. A walk is numbered from the committed cursor, not the clock, so pollers with different clocks
 * cannot disagree. Cursors stored before walks were counted (`{since}`, a bare keyset) read as walk 0 with 0
 * pages, before every counted cursor, and order among themselves by their update-time part.
 */
export interface WalkPosition {
  /** Which walk: 1 for the first, one more for each after; 0 for a cursor stored before walks were counted. */
  walk: number;
  /** Pages of this walk read up to the cursor's own, that one included (empty ones within the walk too). */
  pages: number;
  /** When this walk began (ISO instant), for operators reading the cursor; not part of the order. */
  walkStartedAt: string | null;
  /** Where the walk goes on after the cursor's page; null once the walk has read its last page. */
  resume: { [key: string]: Json } | null;
}

const isObject = (value: unknown): value is { [key: string]: Json } =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** The walk a cursor is in; a cursor without one (none yet, or stored before walks were counted) is walk 0. */
export function walkOf(cursor: Cursor | null): WalkPosition {
  if (!isObject(cursor) || !isCount(cursor.walk) || !isCount(cursor.pages))
    return { walk: 0, pages: 0, walkStartedAt: null, resume: null };
  return {
    walk: cursor.walk,
    pages: cursor.pages,
    walkStartedAt: typeof cursor.walkStartedAt === 'string' ? cursor.walkStartedAt : null,
    resume: isObject(cursor.resume) ? cursor.resume : null,
  };
}

/** Orders two cursors by their walk, then by pages read in it (see WalkPosition); 0 when both are in the same place. */
export function compareWalks(a: Cursor | null, b: Cursor | null): number {
  const [x, y] = [walkOf(a), walkOf(b)];
  return x.walk - y.walk || x.pages - y.pages;
}

/** The position of a new walk after the committed cursor: the next walk number, no page read yet. */
export function nextWalk(
  committed: Cursor | null,
  now = new Date(),
): Pick<WalkPosition, 'walk' | 'pages'> & { walkStartedAt: string } {
  return { walk: walkOf(committed).walk + 1, pages: 0, walkStartedAt: now.toISOString() };
}

/**
 * The walk fields of a page's cursor: one page further than the state it was read from; `resume` when the walk goes on.
 */
export function walkFields(
  state: { walk: number; pages: number; walkStartedAt: string | null },
  resume: { [key: string]: Json } | null,
): { [key: string]: Json } {
  return {
    walk: state.walk,
    pages: state.pages + 1,
    walkStartedAt: state.walkStartedAt,
    ...(resume ? { resume } : {}),
  };
}
