import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database, MismatchKind, ReconcileMethod, ReconcileRunsTable, ReconcileStatus } from '../schema.js';

/** A reconcile run as stored. */
export type ReconcileRunRow = Selectable<ReconcileRunsTable>;

/** A run to record. */
export interface NewReconcileRun {
  connectorId: string;
  provinceCode: string;
  from: Date;
  to: Date;
  method: ReconcileMethod;
  bucketsTotal: number;
  startedBy: string;
  /** `requested`: for a reconciler process to take; default `running` (this process runs it). */
  status?: 'requested' | 'running';
}

/** Records a new run; null when the connector has an unfinished one (the partial unique index). */
export async function insertReconcileRun(
  db: Kysely<Database> | Transaction<Database>,
  run: NewReconcileRun,
): Promise<ReconcileRunRow | null> {
  const row = await db
    .insertInto('reconcile_runs')
    .values({
      connector_id: run.connectorId,
      province_code: run.provinceCode,
      range_from: run.from,
      range_to: run.to,
      method: run.method,
      buckets_total: run.bucketsTotal,
      started_by: run.startedBy,
    })
    .onConflict((conflict) => conflict.column('connector_id').where('status', 'in', ['running', 'failed']).doNothing())
    .returningAll()
    .executeTakeFirst();
  return row ?? null;
}

/** The connector's unfinished run (running, or failed and resumable). */
export async function findUnfinishedReconcile(
  db: Kysely<Database> | Transaction<Database>,
  connectorId: string,
): Promise<ReconcileRunRow | undefined> {
  return db
    .selectFrom('reconcile_runs')
    .selectAll()
    .where('connector_id', '=', connectorId)
    .where('status', 'in', ['requested', 'running', 'failed'])
    .executeTakeFirst();
}

/** A run by id. */
export async function findReconcileRun(
  db: Kysely<Database> | Transaction<Database>,
  id: string,
): Promise<ReconcileRunRow | undefined> {
  return db.selectFrom('reconcile_runs').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Which runs to list: newest first. */
export interface ReconcileRunFilter {
  connectorId?: string;
  /** Current province codes a key holds; undefined: every province. */
  provinceCodes?: readonly string[];
  limit?: number;
}

/** Recent runs, newest first. */
export async function listReconcileRuns(
  db: Kysely<Database>,
  filter: ReconcileRunFilter = {},
): Promise<ReconcileRunRow[]> {
  let query = db.selectFrom('reconcile_runs').selectAll();
  if (filter.connectorId !== undefined) query = query.where('connector_id', '=', filter.connectorId);
  if (filter.provinceCodes !== undefined) {
    if (filter.provinceCodes.length === 0) return [];
    query = query.where('province_code', 'in', filter.provinceCodes);
  }
  return query
    .orderBy('id', 'desc')
    .limit(filter.limit ?? 20)
    .execute();
}

/** Sets a run's status (finished ones get their end time); a failure keeps its message. */
export async function setReconcileStatus(
  db: Kysely<Database> | Transaction<Database>,
  id: string,
  status: ReconcileStatus,
  error: string | null = null,
): Promise<void> {
  await db
    .updateTable('reconcile_runs')
    .set({
      status,
      error,
      updated_at: sql<string>`now()`,
      finished_at: status === 'done' || status === 'cancelled' ? sql<string>`now()` : null,
    })
    .where('id', '=', id)
    .execute();
}

/** What a bucket added to a run: added to the stored counters. */
export interface BucketTally {
  /** How many of the buckets finished differed. */
  differing: number;
  scopes: number;
  requests: number;
  records: number;
  seconds: number;
  /** Dossiers the source holds in the bucket (its side of the comparison). */
  sourceDossiers: number;
}

/** One mismatch found: the dossier, both sides, whether the source's state is to be written. */
export interface NewMismatch {
  dossierCode: string;
  kind: MismatchKind;
  storedVersion: number | null;
  storedStatus: number | null;
  sourceVersion: number | null;
  sourceStatus: number | null;
  repairable: boolean;
  provisional?: boolean;
}

/**
 * Records mismatches of a run, each dossier once: a dossier already recorded keeps its first finding, unless that
 * was a provisional extra_here (seen only on our side, not looked up by code) and this one says what it is.
 * Returns the codes newly recorded or settled.
 */
export async function recordMismatches(
  db: Kysely<Database> | Transaction<Database>,
  runId: string,
  provinceCode: string,
  mismatches: readonly NewMismatch[],
): Promise<string[]> {
  const recorded: string[] = [];
  for (let start = 0; start < mismatches.length; start += 2000) {
    const chunk = mismatches.slice(start, start + 2000);
    const rows = await db
      .insertInto('reconcile_mismatches')
      .values(
        chunk.map((mismatch) => ({
          run_id: runId,
          province_code: provinceCode,
          dossier_code: mismatch.dossierCode,
          kind: mismatch.kind,
          stored_version: mismatch.storedVersion,
          stored_status: mismatch.storedStatus,
          source_version: mismatch.sourceVersion,
          source_status: mismatch.sourceStatus,
          repairable: mismatch.repairable,
          provisional: mismatch.provisional ?? false,
        })),
      )
      .onConflict((conflict) =>
        conflict
          .columns(['run_id', 'dossier_code'])
          .doUpdateSet({
            kind: (eb) => eb.ref('excluded.kind'),
            stored_version: (eb) => eb.ref('excluded.stored_version'),
            stored_status: (eb) => eb.ref('excluded.stored_status'),
            source_version: (eb) => eb.ref('excluded.source_version'),
            source_status: (eb) => eb.ref('excluded.source_status'),
            repairable: (eb) => eb.ref('excluded.repairable'),
            provisional: (eb) => eb.ref('excluded.provisional'),
          })
          .where('reconcile_mismatches.provisional', '=', true)
          .where(sql<boolean>`NOT excluded.provisional`),
      )
      .returning('dossier_code')
      .execute();
    recorded.push(...rows.map((row) => row.dossier_code));
  }
  return recorded;
}

/**
 * The codes of a run recorded already (not provisionally) that need nothing more — not to repair, or repaired — of
 * those given, in one statement per 5,000: a dossier found twice is handled once.
 */
export async function settledCodes(
  db: Kysely<Database>,
  runId: string,
  codes: readonly string[],
): Promise<Set<string>> {
  const found = new Set<string>();
  for (let start = 0; start < codes.length; start += 5000) {
    const rows = await db
      .selectFrom('reconcile_mismatches')
      .select('dossier_code')
      .where('run_id', '=', runId)
      .where('provisional', '=', false)
      .where((eb) => eb.or([eb('repairable', '=', false), eb('repaired', '=', true)]))
      .where('dossier_code', 'in', codes.slice(start, start + 5000))
      .execute();
    for (const row of rows) found.add(row.dossier_code);
  }
  return found;
}

/**
 * Marks repaired the run's repairable mismatches whose dossier now holds the source's (version, status) — after the
 * writer committed the repair — and counts the run's mismatches by kind into the run row.
 */
export async function settleRun(db: Kysely<Database> | Transaction<Database>, runId: string): Promise<void> {
  await sql`
    UPDATE reconcile_mismatches m SET repaired = true
    FROM dossiers d
    WHERE m.run_id = ${runId} AND m.repairable AND NOT m.repaired
      AND d.province_code = m.province_code AND d.dossier_code = m.dossier_code
      AND d.source_version = m.source_version AND d.status = m.source_status`.execute(db);
  await sql`
    UPDATE reconcile_runs r SET
      missing_here = c.missing_here, extra_here = c.extra_here, different_version = c.different_version,
      different_state = c.different_state, repaired = c.repaired, updated_at = now()
    FROM (
      SELECT count(*) FILTER (WHERE kind = 'missing_here') AS missing_here,
        count(*) FILTER (WHERE kind = 'extra_here') AS extra_here,
        count(*) FILTER (WHERE kind = 'different_version') AS different_version,
        count(*) FILTER (WHERE kind = 'different_state') AS different_state,
        count(*) FILTER (WHERE repaired) AS repaired
      FROM reconcile_mismatches WHERE run_id = ${runId}
    ) c
    WHERE r.id = ${runId}`.execute(db);
}

/**
 * Moves a run past one or more buckets (to `bucketsDone`): its position and its counters, in one statement.
 * Returns the run's status and stored counts after it, for the progress line and to see a cancel.
 */
export async function finishBuckets(
  db: Kysely<Database> | Transaction<Database>,
  runId: string,
  bucketsDone: number,
  tally: BucketTally,
): Promise<{ status: ReconcileStatus; mismatches: number; repaired: number } | null> {
  const { rows } = await sql<{ status: ReconcileStatus; mismatches: string; repaired: string }>`
    UPDATE reconcile_runs SET
      buckets_done = ${bucketsDone},
      buckets_differing = buckets_differing + ${tally.differing},
      scopes_compared = scopes_compared + ${tally.scopes},
      requests_made = requests_made + ${tally.requests},
      records_fetched = records_fetched + ${tally.records},
      source_dossiers = source_dossiers + ${tally.sourceDossiers},
      run_seconds = run_seconds + ${tally.seconds},
      updated_at = now()
    WHERE id = ${runId}
    RETURNING status, missing_here + extra_here + different_version + different_state AS mismatches, repaired`.execute(
    db,
  );
  const row = rows[0];
  return row ? { status: row.status, mismatches: Number(row.mismatches), repaired: Number(row.repaired) } : null;
}

/** The provisional extra_here mismatches of a run left when it ends: they are what the source no longer has. */
export async function confirmProvisional(
  db: Kysely<Database> | Transaction<Database>,
  runId: string,
): Promise<{ dossier_code: string; stored_version: string | number | null; stored_status: number | null }[]> {
  return db
    .updateTable('reconcile_mismatches')
    .set({ provisional: false })
    .where('run_id', '=', runId)
    .where('provisional', '=', true)
    .returning(['dossier_code', 'stored_version', 'stored_status'])
    .execute();
}

/**
 * Holds the connector's reconcile lock for the life of `work`, on one connection of its own (a session advisory
 * lock, freed with the connection of a killed process). Null (without running `work`) when another session holds it.
 */
export async function withReconcileLock<T>(
  db: Kysely<Database>,
  connectorId: string,
  work: () => Promise<T>,
): Promise<{ value: T } | null> {
  return db.connection().execute(async (connection) => {
    const key = sql`hashtextextended(${`reconcile:${connectorId}`}, 0)`;
    const { rows } = await sql<{ taken: boolean }>`SELECT pg_try_advisory_lock(${key}) AS taken`.execute(connection);
    if (!rows[0]?.taken) return null;
    try {
      return { value: await work() };
    } finally {
      await sql`SELECT pg_advisory_unlock(${key})`.execute(connection);
    }
  });
}

/** What the reconcile metrics show, per connector: read from the runs at each scrape. */
export interface ReconcileFigures {
  runs: { connectorId: string; outcome: string; count: number }[];
  mismatches: { connectorId: string; kind: string; count: number }[];
  repaired: { connectorId: string; count: number }[];
  /** Per connector: the start of its latest finished run that left no repairable mismatch unrepaired. */
  lastMatch: { connectorId: string; seconds: number }[];
  /**
   * Per connector, of its latest finished run: the dossiers compared (either side holds: the source's plus those
   * only we hold) and those found in sync (the source's, less those missing here or different). The service level
   * "share of a province's dossiers in sync at the last reconcile" is the ratio of their sums over the province.
   */
  lastRun: { connectorId: string; provinceCode: string; compared: number; inSync: number }[];
}

/** The figures of every connector's reconcile runs. */
export async function reconcileFigures(db: Kysely<Database>): Promise<ReconcileFigures> {
  const runs = await db
    .selectFrom('reconcile_runs')
    .select(['connector_id', 'status', (eb) => eb.fn.countAll<string>().as('count')])
    .groupBy(['connector_id', 'status'])
    .execute();
  const sums = await db
    .selectFrom('reconcile_runs')
    .select([
      'connector_id',
      (eb) => eb.fn.sum<string>('missing_here').as('missing_here'),
      (eb) => eb.fn.sum<string>('extra_here').as('extra_here'),
      (eb) => eb.fn.sum<string>('different_version').as('different_version'),
      (eb) => eb.fn.sum<string>('different_state').as('different_state'),
      (eb) => eb.fn.sum<string>('repaired').as('repaired'),
    ])
    .groupBy('connector_id')
    .execute();
  const { rows: matched } = await sql<{ connector_id: string; seconds: number }>`
    SELECT connector_id, extract(epoch FROM max(started_at))::float8 AS seconds FROM reconcile_runs r
    WHERE status = 'done' AND NOT EXISTS (
      SELECT 1 FROM reconcile_mismatches m WHERE m.run_id = r.id AND m.repairable AND NOT m.repaired)
    GROUP BY connector_id`.execute(db);
  // Runs recorded before migration 0018 counted no dossiers: they have no figure, rather than none in sync. In sync
  // is kept at 0 or more: a dossier the source moved out of the range is found different without being in the
  // source's count of it.
  const { rows: latest } = await sql<{
    connector_id: string;
    province_code: string;
    compared: string;
    in_sync: string;
  }>`
    SELECT DISTINCT ON (connector_id) connector_id, province_code,
      source_dossiers + extra_here AS compared,
      greatest(0, source_dossiers - missing_here - different_version - different_state) AS in_sync
    FROM reconcile_runs
    WHERE status = 'done' AND source_dossiers + extra_here > 0
    ORDER BY connector_id, id DESC`.execute(db);
  const kinds = ['missing_here', 'extra_here', 'different_version', 'different_state'] as const;
  return {
    runs: runs.map((row) => ({ connectorId: row.connector_id, outcome: row.status, count: Number(row.count) })),
    mismatches: sums.flatMap((row) =>
      kinds.map((kind) => ({ connectorId: row.connector_id, kind, count: Number(row[kind] ?? 0) })),
    ),
    repaired: sums.map((row) => ({ connectorId: row.connector_id, count: Number(row.repaired ?? 0) })),
    lastMatch: matched.map((row) => ({ connectorId: row.connector_id, seconds: Number(row.seconds) })),
    lastRun: latest.map((row) => ({
      connectorId: row.connector_id,
      provinceCode: row.province_code,
      compared: Number(row.compared),
      inSync: Number(row.in_sync),
    })),
  };
}

/** Connectors with a run requested over HTTP, or running with nobody holding its lock (its process died). */
export async function connectorsToReconcile(db: Kysely<Database>): Promise<string[]> {
  const rows = await db
    .selectFrom('reconcile_runs')
    .select('connector_id')
    .where('status', 'in', ['requested', 'running'])
    .orderBy('id')
    .execute();
  return rows.map((row) => row.connector_id);
}

/** When each connector's latest run started. */
export async function latestReconcileStarts(db: Kysely<Database>): Promise<Map<string, Date>> {
  const rows = await db
    .selectFrom('reconcile_runs')
    .select(['connector_id', (eb) => eb.fn.max('started_at').as('started_at')])
    .groupBy('connector_id')
    .execute();
  return new Map(rows.map((row) => [row.connector_id, new Date(row.started_at as unknown as string)]));
}
