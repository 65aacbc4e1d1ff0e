import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { DossierFeedFilters, FeedPosition } from '../../../db/queries/list-dossiers.js';

// The change feed's cursor: opaque to the portal, base64url of a versioned JSON object holding the position (the
// last row's synced_at to the microsecond and its key), the filters it was made for and when it was issued, with a
// checksum. The checksum is no secret: it tells a damaged or edited cursor from a good one, and a cursor grants
// nothing a portal:read key cannot read anyway.

/** The cursor format written now. A cursor of an older format is answered 410: start again from `updatedSince`. */
export const feedCursorVersion = 1;

/** What a cursor holds. */
export interface FeedCursor {
  position: FeedPosition;
  /** The filters' fingerprint (`filtersFingerprint`). */
  filters: string;
  issuedAt: Date;
}

/** A cursor read back: the cursor, or why it cannot be used. */
export type DecodedFeedCursor =
  { kind: 'invalid'; detail: string } | { kind: 'old_format'; version: number } | { kind: 'ok'; cursor: FeedCursor };

const body = z.strictObject({
  v: z.literal(feedCursorVersion),
  // The position: synced_at (six fraction digits, UTC), province code and dossier code; both codes empty for the
  // place just before every row synced at that time.
  s: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/),
  p: z.string().regex(/^(\d{2})?$/),
  d: z.string().max(100),
  f: z.string().max(1000),
  i: z.iso.datetime(),
  k: z.string(),
});

/**
 * The filters as one canonical string, e.g. `province=01&status=4,5&updatedSince=2026-12-01T00:00:00Z`: a cursor
 * holds it, and names it when it is sent with other filters. Empty without filters. The provinces of the asking key
 * (`provinceCodes`) are not a filter the reader chose and are left out: the key's scope applies to every page anyway.
 */
export function filtersFingerprint(filters: DossierFeedFilters): string {
  const parts: string[] = [];
  if (filters.provinceCode !== undefined) parts.push(`province=${filters.provinceCode}`);
  if (filters.statuses !== undefined && filters.statuses.length > 0)
    parts.push(`status=${[...new Set(filters.statuses)].sort((a, b) => a - b).join(',')}`);
  if (filters.updatedSince !== undefined) parts.push(`updatedSince=${filters.updatedSince}`);
  return parts.join('&');
}

function checksum(fields: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(fields)).digest('base64url').slice(0, 16);
}

/** The opaque text of a cursor. */
export function encodeFeedCursor(cursor: FeedCursor): string {
  const fields = {
    v: feedCursorVersion,
    s: cursor.position.syncedAt,
    p: cursor.position.provinceCode,
    d: cursor.position.dossierCode,
    f: cursor.filters,
    i: cursor.issuedAt.toISOString(),
  };
  const k = checksum([fields.v, fields.s, fields.p, fields.d, fields.f, fields.i]);
  return Buffer.from(JSON.stringify({ ...fields, k }), 'utf8').toString('base64url');
}

/** Reads a cursor the feed issued; says why when it cannot. */
export function decodeFeedCursor(text: string): DecodedFeedCursor {
  const invalid = (detail: string): DecodedFeedCursor => ({ kind: 'invalid', detail });
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return invalid('it is not base64url text');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return invalid('it does not decode to a cursor');
  }
  const version = (parsed as { v?: unknown } | null)?.v;
  if (Number.isInteger(version) && (version as number) >= 0 && (version as number) < feedCursorVersion)
    return { kind: 'old_format', version: version as number };
  const result = body.safeParse(parsed);
  if (!result.success) return invalid('it is not a cursor of this feed');
  const { v, s, p, d, f, i, k } = result.data;
  if ((p === '') !== (d === '') || checksum([v, s, p, d, f, i]) !== k)
    return invalid('it was changed or damaged since the feed issued it');
  return {
    kind: 'ok',
    cursor: { position: { syncedAt: s, provinceCode: p, dossierCode: d }, filters: f, issuedAt: new Date(i) },
  };
}
