import { sql, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import type { Database, DossiersTable } from '../schema.js';
import { changeHorizon } from './change-horizon.js';
import { syncedAtText } from './find-dossier.js';

/** A place in the change feed's order: after it come rows with a greater (synced_at, province_code, dossier_code). */
export interface FeedPosition {
  /** ISO 8601 UTC with six fraction digits (`2026-12-01T03:04:05.123456Z`), compared as timestamptz. */
  syncedAt: string;
  /** Empty with an empty `dossierCode`: the position just before every row synced at `syncedAt`. */
  provinceCode: string;
  dossierCode: string;
}

/** What a page of the feed is restricted to. */
export interface DossierFeedFilters {
  /** A current (2025) province code. Default: every province. */
  provinceCode?: string;
  /** Current (2025) province codes, the provinces the asking key holds. Default: every province. */
  provinceCodes?: readonly string[];
  /** National status codes; a dossier in any of them. Default: every status. */
  statuses?: readonly number[];
  /** ISO 8601 time: only rows synced at or after it. Default: from the first row. */
  updatedSince?: string;
}

/** One dossier of a feed page: its canonical summary, never more (there is no personal data to leave out). */
export interface DossierSummaryRow {
  provinceCode: string;
  dossierCode: string;
  altDossierCode: string | null;
  sourceProvinceCode: string;
  sourceCodeSet: string;
  procedureCode: string | null;
  sectorCode: string | null;
  agencyCode: string | null;
  channel: number | null;
  status: number;
  submittedAt: Date | null;
  receivedAt: Date | null;
  dueAt: Date | null;
  finishedAt: Date | null;
  returnedAt: Date | null;
  rejectedAt: Date | null;
  sourceUpdatedAt: Date;
  sourceVersion: string;
  /** ISO 8601 UTC, to the microsecond. */
  syncedAt: string;
}

/** A page of the feed and where the next one starts. */
export interface DossierFeedPage {
  items: DossierSummaryRow[];
  /** Whether rows after the page were already there before the horizon: ask again at once. */
  hasMore: boolean;
  /** Every row synced before it was visible to the page; rows written later are synced at or after it. */
  horizon: Date;
  /**
   * Where the next page starts: the last item when `hasMore`; otherwise the horizon itself, since every row before it
   * has been read (so the next poll does not walk again rows the filters left out).
   */
  next: FeedPosition;
}

/** What a page asks for. */
export interface DossierFeedRequest {
  filters: DossierFeedFilters;
  /** Where the previous page ended; default: the start (or `updatedSince`). */
  after?: FeedPosition;
  /** Rows at most, 1 to 1000. */
  limit: number;
}

/** A feed item as read: the summary columns, `synced_at` as text to keep its microseconds. */
type Row = Pick<
  Selectable<DossiersTable>,
  | 'province_code'
  | 'dossier_code'
  | 'alt_dossier_code'
  | 'source_province_code'
  | 'source_code_set'
  | 'procedure_code'
  | 'sector_code'
  | 'agency_code'
  | 'channel'
  | 'status'
  | 'submitted_at'
  | 'received_at'
  | 'due_at'
  | 'finished_at'
  | 'returned_at'
  | 'rejected_at'
  | 'source_updated_at'
  | 'source_version'
> & { synced_at: string };

/**
 * A page of the change feed: dossiers in (synced_at, province_code, dossier_code) order after a position, up to the
 * change horizon, asked in a statement of its own first (db/queries/change-horizon.ts). So no row is skipped: a
 * writer transaction still open has a start, and its rows a `synced_at`, at or after the horizon, so the feed has
 * not gone past them when they commit; and none is repeated: a position only moves forward, and a row is read
 * again only once an update has moved it to a later `synced_at`. Each update of a dossier is seen at its new place
 * unless a later update moved it on before the feed reached it (the feed gives current states, not every state:
 * the lookup's history has those).
 *
 * The page is a range scan of the index dossiers_change_feed (migration 0008), checked with EXPLAIN ANALYZE on
 * 1,000,000 dossiers over the 34 partitions (PostgreSQL 15): nationally a Merge Append of one Index Scan per
 * partition, each starting at the position (`Index Cond: synced_at < horizon AND ROW(synced_at, province_code,
 * dossier_code) > ROW(...)`) and stopped by the Limit after `limit + 1` rows; with a province, that partition's
 * Index Scan alone (the others pruned at plan time). A status filter is applied to those rows (`Filter`), so a rare
 * status walks the rows synced since the cursor until the page is full or the horizon reached: the changes since
 * the last poll, not the table. No Sort in these plans; on a table of a few thousand rows per partition the planner
 * may sort a province's few matching rows instead, which is cheaper there.
 */
export async function listDossiers(db: Kysely<Database>, request: DossierFeedRequest): Promise<DossierFeedPage> {
  const horizon = await changeHorizon(db);
  const { after, limit } = request;
  const { rows } = await feedPageQuery(horizon, request).execute(db);

  const hasMore = rows.length > limit;
  const items = rows.slice(0, limit).map(toSummary);
  const last = items.at(-1);
  let next: FeedPosition;
  if (hasMore && last)
    next = { syncedAt: last.syncedAt, provinceCode: last.provinceCode, dossierCode: last.dossierCode };
  else {
    next = { syncedAt: microsecondTime(horizon), provinceCode: '', dossierCode: '' };
    // The horizon does not go back (a transaction open now was open at the last page too), but never move back.
    if (after && after.syncedAt > next.syncedAt) next = after;
  }
  return { items, hasMore, horizon, next };
}

/** The statement of a feed page up to `horizon`: `limit + 1` rows, so the page knows whether more are there. */
export function feedPageQuery(horizon: Date, { filters, after, limit }: DossierFeedRequest) {
  const conditions: RawBuilder<unknown>[] = [sql`synced_at < ${horizon}`];
  if (after) {
    conditions.push(
      sql`(synced_at, province_code, dossier_code) > (${after.syncedAt}::timestamptz, ${after.provinceCode}, ${after.dossierCode})`,
    );
  }
  if (filters.updatedSince !== undefined) conditions.push(sql`synced_at >= ${filters.updatedSince}::timestamptz`);
  if (filters.provinceCode !== undefined) conditions.push(sql`province_code = ${filters.provinceCode}`);
  if (filters.provinceCodes !== undefined)
    conditions.push(sql`province_code = ANY(${[...filters.provinceCodes]}::text[])`);
  if (filters.statuses !== undefined && filters.statuses.length > 0)
    conditions.push(sql`status = ANY(${[...filters.statuses]}::smallint[])`);

  return sql<Row>`
    SELECT
      province_code, dossier_code, alt_dossier_code, source_province_code, source_code_set, procedure_code,
      sector_code, agency_code, channel, status, submitted_at, received_at, due_at, finished_at, returned_at,
      rejected_at, source_updated_at, source_version, ${syncedAtText} AS synced_at
    FROM dossiers
    WHERE ${sql.join(conditions, sql` AND `)}
    -- Qualified: a bare synced_at here would be the output column (the text), and the index would not serve the order.
    ORDER BY dossiers.synced_at, province_code, dossier_code
    LIMIT ${limit + 1}
  `;
}

/** An instant as a position's `syncedAt`: ISO 8601 UTC with six fraction digits, so text order is time order. */
export function microsecondTime(instant: Date): string {
  return instant.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function toSummary(row: Row): DossierSummaryRow {
  return {
    provinceCode: row.province_code,
    dossierCode: row.dossier_code,
    altDossierCode: row.alt_dossier_code,
    sourceProvinceCode: row.source_province_code,
    sourceCodeSet: row.source_code_set,
    procedureCode: row.procedure_code,
    sectorCode: row.sector_code,
    agencyCode: row.agency_code,
    channel: row.channel,
    status: row.status,
    submittedAt: row.submitted_at,
    receivedAt: row.received_at,
    dueAt: row.due_at,
    finishedAt: row.finished_at,
    returnedAt: row.returned_at,
    rejectedAt: row.rejected_at,
    sourceUpdatedAt: row.source_updated_at,
    sourceVersion: row.source_version,
    syncedAt: row.synced_at,
  };
}
