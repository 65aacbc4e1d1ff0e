import { sql, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import type { Database, DossiersTable } from '../schema.js';

/** One distinct state of a dossier, as `dossier_events` keeps it. */
export interface StoredDossierState {
  status: number;
  sourceStatus: string;
  sourceVersion: string;
  dueAt: Date | null;
  finishedAt: Date | null;
  sourceUpdatedAt: Date;
  observedAt: Date;
  recordedAt: Date;
}

/** A dossier's current row and its history, read in one snapshot. */
export interface StoredDossier {
  provinceCode: string;
  dossierCode: string;
  altDossierCode: string | null;
  sourceProvinceCode: string;
  sourceCodeSet: string;
  procedureCode: string | null;
  sectorCode: string | null;
  agencyCode: string | null;
  channel: number | null;
  applicantType: number | null;
  status: number;
  sourceStatus: string;
  submittedAt: Date | null;
  receivedAt: Date | null;
  dueAt: Date | null;
  finishedAt: Date | null;
  returnedAt: Date | null;
  rejectedAt: Date | null;
  sourceUpdatedAt: Date;
  /** A bigint, as text. */
  sourceVersion: string;
  contentHash: string;
  observedAt: Date;
  /** ISO 8601 UTC with Postgres's full microsecond precision (a Date would keep milliseconds only). */
  syncedAt: string;
  /** Every distinct state, in the order the writer ranks them: source version, then observation. */
  history: StoredDossierState[];
}

/** A stored dossier as read, `synced_at` as text to keep its microseconds; its history beside it. */
type Row = Omit<Selectable<DossiersTable>, 'connector_id' | 'synced_at'> & {
  synced_at: string;
  history: {
    status: number;
    source_status: string;
    source_version: string;
    due_at: string | null;
    finished_at: string | null;
    source_updated_at: string;
    observed_at: string;
    recorded_at: string;
  }[];
};

/** `synced_at` as ISO 8601 UTC with microseconds, whatever the session's time zone and date style. */
export const syncedAtText = sql<string>`to_char(synced_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const date = (value: string | null) => (value === null ? null : new Date(value));

/** The columns of a dossier and its history as a row of the statements below (`d` the dossier, the history by key). */
const dossierSelection = (provinceCode: RawBuilder<string>, dossierCode: RawBuilder<string>) => sql`
  d.province_code, d.dossier_code, d.alt_dossier_code, d.source_province_code, d.source_code_set,
  d.procedure_code, d.sector_code, d.agency_code, d.channel, d.applicant_type, d.status, d.source_status,
  d.submitted_at, d.received_at, d.due_at, d.finished_at, d.returned_at, d.rejected_at, d.source_updated_at,
  d.source_version, d.content_hash, d.observed_at, ${syncedAtText} AS synced_at,
  (
    SELECT coalesce(json_agg(json_build_object(
      'status', e.status, 'source_status', e.source_status, 'source_version', e.source_version::text,
      'due_at', e.due_at, 'finished_at', e.finished_at, 'source_updated_at', e.source_updated_at,
      'observed_at', e.observed_at, 'recorded_at', e.recorded_at
    ) ORDER BY e.source_version, e.observed_at, e.content_hash), '[]'::json)
    FROM dossier_events e
    WHERE e.province_code = ${provinceCode} AND e.dossier_code = ${dossierCode}
  ) AS history`;

/**
 * One dossier by its current province code and dossier code, with its history, or undefined. One statement, so the
 * row and its history come from one snapshot (the writer stores both in one statement). Both are found by primary
 * key, in the province's own partition.
 */
export async function findDossier(
  db: Kysely<Database>,
  provinceCode: string,
  dossierCode: string,
): Promise<StoredDossier | undefined> {
  const { rows } = await sql<Row>`
    SELECT ${dossierSelection(sql`${provinceCode}`, sql`${dossierCode}`)}
    FROM dossiers d
    WHERE d.province_code = ${provinceCode} AND d.dossier_code = ${dossierCode}
  `.execute(db);
  const row = rows[0];
  return row && storedDossierOf(row);
}

/**
 * Many dossiers by key in one statement (each found as findDossier finds it, by primary key in its province's
 * partition, pruned at run time): the answer at each key's place, undefined where there is none. One statement for
 * many lookups is one round trip and one socket write instead of many — the write to Postgres was a third of a
 * gateway's CPU per lookup (`npm run bench:read`).
 */
export async function findDossiers(
  db: Kysely<Database>,
  keys: readonly { provinceCode: string; dossierCode: string }[],
): Promise<(StoredDossier | undefined)[]> {
  const found: (StoredDossier | undefined)[] = keys.map(() => undefined);
  if (keys.length === 0) return found;
  const { rows } = await sql<Row & { place: string }>`
    SELECT k.place, ${dossierSelection(sql`k.province_code`, sql`k.dossier_code`)}
    FROM unnest(${keys.map((key) => key.provinceCode)}::text[], ${keys.map((key) => key.dossierCode)}::text[])
      WITH ORDINALITY AS k(province_code, dossier_code, place)
    JOIN dossiers d ON d.province_code = k.province_code AND d.dossier_code = k.dossier_code
  `.execute(db);
  for (const row of rows) found[Number(row.place) - 1] = storedDossierOf(row);
  return found;
}

function storedDossierOf(row: Row): StoredDossier {
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
    applicantType: row.applicant_type,
    status: row.status,
    sourceStatus: row.source_status,
    submittedAt: row.submitted_at,
    receivedAt: row.received_at,
    dueAt: row.due_at,
    finishedAt: row.finished_at,
    returnedAt: row.returned_at,
    rejectedAt: row.rejected_at,
    sourceUpdatedAt: row.source_updated_at,
    sourceVersion: row.source_version,
    contentHash: row.content_hash,
    observedAt: row.observed_at,
    syncedAt: row.synced_at,
    history: row.history.map((state) => ({
      status: state.status,
      sourceStatus: state.source_status,
      sourceVersion: state.source_version,
      dueAt: date(state.due_at),
      finishedAt: date(state.finished_at),
      sourceUpdatedAt: new Date(state.source_updated_at),
      observedAt: new Date(state.observed_at),
      recordedAt: new Date(state.recorded_at),
    })),
  };
}
