import { hash } from 'node:crypto';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DossierRecord } from '../../connectors/sdk/dossier-record.js';
import type { AnomalyKind, Database } from '../schema.js';

/** Anomalies a batch recorded, of one connector and kind. */
export interface AnomalyCount {
  connectorId: string;
  kind: AnomalyKind;
  count: number;
}

/** What one batch did to the `dossiers` table and its history. */
export interface UpsertOutcome {
  /** Dossiers seen for the first time. */
  inserted: number;
  /** Dossiers moved to a newer state. */
  updated: number;
  /** Records that changed nothing: older than the stored state, an exact repeat, or superseded within the batch. */
  unchanged: number;
  /** New rows in `dossier_events`. */
  events: number;
  /** New rows in `dossier_anomalies` (a repeat of one already recorded is not counted), by connector and kind. */
  anomalies: AnomalyCount[];
}

/** The fields that make up a dossier's state: two records with the same hash are the same state. */
function contentHash(record: DossierRecord): string {
  const state = [
    record.altDossierCode,
    record.sourceProvinceCode,
    record.sourceCodeSet,
    record.procedureCode,
    record.sectorCode,
    record.agencyCode,
    record.channel,
    record.applicantType,
    record.status,
    record.sourceStatus,
    record.submittedAt,
    record.receivedAt,
    record.dueAt,
    record.finishedAt,
    record.returnedAt,
    record.rejectedAt,
    record.sourceUpdatedAt,
    record.sourceVersion,
  ];
  // One-shot: a Hash object per record cost twice as much (1.0 against 0.5 µs a record, on this writer's hot path).
  return hash('sha1', JSON.stringify(state), 'base64');
}

/** One record as a row of the `json_to_recordset` parameter, with its content hash; not (yet) the newest. */
function toRow(record: DossierRecord, contentHash: string) {
  return {
    province_code: record.provinceCode,
    dossier_code: record.dossierCode,
    alt_dossier_code: record.altDossierCode,
    source_province_code: record.sourceProvinceCode,
    source_code_set: record.sourceCodeSet,
    procedure_code: record.procedureCode,
    sector_code: record.sectorCode,
    agency_code: record.agencyCode,
    channel: record.channel,
    applicant_type: record.applicantType,
    status: record.status,
    source_status: record.sourceStatus,
    submitted_at: record.submittedAt,
    received_at: record.receivedAt,
    due_at: record.dueAt,
    finished_at: record.finishedAt,
    returned_at: record.returnedAt,
    rejected_at: record.rejectedAt,
    source_updated_at: record.sourceUpdatedAt,
    source_version: record.sourceVersion,
    content_hash: contentHash,
    observed_at: record.observedAt,
    connector_id: record.connectorId,
    newest: false,
  };
}
type Row = ReturnType<typeof toRow>;

/** Orders two states of one dossier as guarantee 2 says: higher version, then the later observation. */
function isNewer(candidate: Row, current: Row): boolean {
  if (candidate.source_version !== current.source_version) return candidate.source_version > current.source_version;
  if (candidate.content_hash === current.content_hash) return false;
  return candidate.observed_at >= current.observed_at;
}

/**
 * Reduces a batch to its distinct states (for the history), marking the newest state of each dossier (for the
 * current row: Postgres refuses to update one row twice in a statement). Rows come out sorted by key, so
 * concurrent writers lock rows in the same order and cannot deadlock each other.
 */
export function reduceBatch(records: readonly DossierRecord[]): Row[] {
  const newest = new Map<string, Row>();
  const states = new Map<string, Row>();
  for (const record of records) {
    const row = toRow(record, contentHash(record));
    const key = `${row.province_code}\u0000${row.dossier_code}`;
    const stateKey = `${key}\u0000${row.source_version}\u0000${row.content_hash}`;
    if (!states.has(stateKey)) states.set(stateKey, row);
    const current = newest.get(key);
    if (!current || isNewer(row, current)) newest.set(key, row);
  }
  const winners = new Set(newest.values());
  const byKey = (a: Row, b: Row) =>
    a.province_code < b.province_code
      ? -1
      : a.province_code > b.province_code
        ? 1
        : a.dossier_code < b.dossier_code
          ? -1
          : a.dossier_code > b.dossier_code
            ? 1
            : 0;
  // A state repeated within the batch is kept once; make sure the kept copy is the winning one.
  for (const winner of winners)
    states.set(
      `${winner.province_code}\u0000${winner.dossier_code}\u0000${winner.source_version}\u0000${winner.content_hash}`,
      winner,
    );
  // Each row is its record's own object: marked in place rather than copied, on a path every record takes.
  for (const winner of winners) winner.newest = true;
  return [...states.values()].sort(byKey);
}

/** The columns of the batch's rows as the upsert reads them (reduceBatch's rows), with their types. */
export const incomingColumns = sql.raw(`
  province_code text, dossier_code text, alt_dossier_code text, source_province_code text, source_code_set text,
  procedure_code text, sector_code text, agency_code text, channel smallint, applicant_type smallint,
  status smallint, source_status text, submitted_at timestamptz, received_at timestamptz, due_at timestamptz,
  finished_at timestamptz, returned_at timestamptz, rejected_at timestamptz, source_updated_at timestamptz,
  source_version bigint, content_hash text, observed_at timestamptz, connector_id text, newest boolean`);

/**
 * Stores a batch of dossier updates in one statement, whatever the batch size: the history and the current
 * rows, from one `json_to_recordset` parameter. The guard (DESIGN.md guarantee 2) is in SQL, so it holds
 * against concurrent writers too: a row moves only to a higher source version, or to a different state of the
 * same version observed later. Stale rows are filtered before the insert so they cost neither a row lock nor
 * WAL (limits.md); the history keeps every distinct state once, whatever order the states arrive in. The same
 * statement records the batch's anomalies (an unexpected transition applied, a version that went backwards refused)
 * in `dossier_anomalies`; the stored status they compare with is the statement's snapshot (a concurrent writer's
 * commit of the same dossier in between is not seen as the "from" status).
 */
export async function upsertDossiers(db: Kysely<Database>, records: readonly DossierRecord[]): Promise<UpsertOutcome> {
  if (records.length === 0) return { inserted: 0, updated: 0, unchanged: 0, events: 0, anomalies: [] };
  const rows = reduceBatch(records);
  // json, not jsonb: the rows are read once, so building jsonb's binary form first only adds work (10 % of the
  // statement's rate: scripts/tools/bench-upsert-input.ts).
  return upsertDossiersFrom(
    db,
    sql`SELECT * FROM json_to_recordset(${JSON.stringify(rows)}::json) AS r(${incomingColumns})`,
    records.length,
    provincesOf(rows),
  );
}

/** The distinct province codes of a batch's rows: usually one (a writer group is one province's queue). */
export function provincesOf(rows: readonly { province_code: string }[]): string[] {
  return [...new Set(rows.map((row) => row.province_code))];
}

/**
 * The same statement over rows read by `incoming` (a query of reduceBatch's rows, columns as incomingColumns): a
 * staging table a COPY filled, say (`scripts/tools/bench-upsert-input.ts` measures it against the parameter).
 * `records` is how many records the rows were reduced from; `provinces` holds the province code of every row
 * (provincesOf), and more codes only cost more partitions read.
 */
export async function upsertDossiersFrom(
  db: Kysely<Database>,
  incoming: RawBuilder<unknown>,
  records: number,
  provinces: readonly string[],
): Promise<UpsertOutcome> {
  const {
    rows: [counts],
  } = await sql<{ inserted: string; updated: string; events: string; anomalies: AnomalyCount[] | null }>`
    WITH incoming AS (${incoming}),
    -- Each incoming state beside the stored row (the statement's snapshot), read once for the guard and the anomalies.
    stored AS (
      SELECT i.*, cur.dossier_code IS NOT NULL AS existed, cur.status AS stored_status,
        cur.source_version AS stored_version, cur.source_updated_at AS stored_updated_at,
        cur.content_hash AS stored_hash, cur.observed_at AS stored_observed_at
      FROM incoming i
      -- The province list adds nothing to the join but lets the planner read only the batch's partitions: it cannot
      -- tell which partitions the rows of a parameter fall in, and otherwise reads the stored rows of every
      -- province, the more of them the fuller the table (a batch cost grew with the table, not with the batch).
      LEFT JOIN dossiers cur ON cur.province_code = i.province_code AND cur.dossier_code = i.dossier_code
        AND cur.province_code = ANY(${provinces as string[]}::text[])
    ),
    history AS (
      INSERT INTO dossier_events (
        province_code, dossier_code, source_version, content_hash, status, source_status, due_at, finished_at,
        source_updated_at, observed_at, connector_id
      )
      SELECT province_code, dossier_code, source_version, content_hash, status, source_status, due_at, finished_at,
        source_updated_at, observed_at, connector_id
      FROM incoming
      ON CONFLICT DO NOTHING
      RETURNING 1
    ),
    fresh AS (
      SELECT * FROM stored s
      WHERE s.newest AND (
        NOT s.existed
        OR s.stored_version < s.source_version
        OR (s.stored_version = s.source_version AND s.stored_hash <> s.content_hash AND s.stored_observed_at <= s.observed_at))
    ),
    written AS (
      INSERT INTO dossiers AS d (
        province_code, dossier_code, alt_dossier_code, source_province_code, source_code_set, procedure_code,
        sector_code, agency_code, channel, applicant_type, status, source_status, submitted_at, received_at, due_at,
        finished_at, returned_at, rejected_at, source_updated_at, source_version, content_hash, observed_at, connector_id
      )
      SELECT
        province_code, dossier_code, alt_dossier_code, source_province_code, source_code_set, procedure_code,
        sector_code, agency_code, channel, applicant_type, status, source_status, submitted_at, received_at,
        due_at, finished_at, returned_at, rejected_at, source_updated_at, source_version, content_hash,
        observed_at, connector_id
      FROM fresh
      ORDER BY province_code, dossier_code
      ON CONFLICT (province_code, dossier_code) DO UPDATE SET
        alt_dossier_code = excluded.alt_dossier_code,
        source_province_code = excluded.source_province_code,
        source_code_set = excluded.source_code_set,
        procedure_code = excluded.procedure_code,
        sector_code = excluded.sector_code,
        agency_code = excluded.agency_code,
        channel = excluded.channel,
        applicant_type = excluded.applicant_type,
        status = excluded.status,
        source_status = excluded.source_status,
        submitted_at = excluded.submitted_at,
        received_at = excluded.received_at,
        due_at = excluded.due_at,
        finished_at = excluded.finished_at,
        returned_at = excluded.returned_at,
        rejected_at = excluded.rejected_at,
        source_updated_at = excluded.source_updated_at,
        source_version = excluded.source_version,
        content_hash = excluded.content_hash,
        observed_at = excluded.observed_at,
        connector_id = excluded.connector_id,
        synced_at = now(),
        revision = d.revision + 1
      -- Re-checked on the locked row: another writer may have stored a newer state since the fresh rows were read.
      WHERE d.source_version < excluded.source_version
        OR (d.source_version = excluded.source_version AND d.content_hash <> excluded.content_hash AND d.observed_at <= excluded.observed_at)
      -- Inserted or updated by what this statement did, not by the snapshot: a concurrent writer may have inserted
      -- the dossier after the snapshot (two pages in flight, one dossier in both), and this statement then updated
      -- it (migration 0017).
      RETURNING province_code, dossier_code, revision = 1 AS inserted_here
    ),
    applied AS (
      SELECT f.*, w.inserted_here FROM written w JOIN fresh f USING (province_code, dossier_code)
    ),
    -- The anomalies (issue #13), recorded once per dossier, kind, source version and status sent (a redelivered
    -- batch adds none: dossier_anomalies_seen_once). An update applied whose status change the model refuses is an
    -- unexpected transition, applied all the same. A lower version than the stored one that claims to be at least as
    -- recent in source time is the source going backwards: never applied, recorded here. A lower version with an
    -- older update time is late delivery, not an anomaly.
    anomalies AS (
      INSERT INTO dossier_anomalies (
        province_code, dossier_code, connector_id, kind, from_status, to_status, stored_version, source_version
      )
      SELECT province_code, dossier_code, connector_id, 'unexpected_transition', stored_status, status, stored_version,
        source_version
      FROM applied
      WHERE existed AND NOT status_transition_allowed(stored_status, status)
      UNION ALL
      SELECT province_code, dossier_code, connector_id, 'version_backwards', stored_status, status, stored_version,
        source_version
      FROM stored
      WHERE existed AND source_version < stored_version AND source_updated_at >= stored_updated_at
      ON CONFLICT (province_code, dossier_code, kind, source_version, to_status) WHERE reconcile_run_id IS NULL
        DO NOTHING
      RETURNING connector_id, kind
    )
    SELECT
      (SELECT count(*) FROM applied WHERE inserted_here) AS inserted,
      (SELECT count(*) FROM applied WHERE NOT inserted_here) AS updated,
      (SELECT count(*) FROM history) AS events,
      (SELECT jsonb_agg(jsonb_build_object('connectorId', connector_id, 'kind', kind, 'count', n))
        FROM (SELECT connector_id, kind, count(*) AS n FROM anomalies GROUP BY connector_id, kind) a) AS anomalies
  `.execute(db);

  const inserted = Number(counts?.inserted ?? 0);
  const updated = Number(counts?.updated ?? 0);
  return {
    inserted,
    updated,
    unchanged: records - inserted - updated,
    events: Number(counts?.events ?? 0),
    anomalies: counts?.anomalies ?? [],
  };
}
