import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import { lagBucketBounds } from '../../workers/read-model/lag-histogram.js';
import type { Database } from '../schema.js';
import { changeHorizon } from './change-horizon.js';

// Recomputes one province's statistics (db/migrations/0009-province-daily-stats.ts) from `dossiers`,
// `dossier_events` and `dead_letters`, in one transaction: readers see the old figures or the new, never a mix.
// The rules are those of workers/read-model/deadline-standing.ts, on Vietnam calendar days; a test holds the two
// together (test/workers/read-model/province-stats-equal-a-direct-computation.test.ts).

/** The calendar day in Vietnam of a timestamptz expression. */
function vietnamDay(instant: RawBuilder<unknown>): RawBuilder<string> {
  return sql<string>`((${instant}) AT TIME ZONE 'Asia/Ho_Chi_Minh')::date`;
}

/** The first instant of a Vietnam calendar day (`yyyy-MM-dd`). */
function startOfVietnamDay(day: string): RawBuilder<Date> {
  return sql<Date>`(${day}::date::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh')`;
}

/**
 * deadlineStanding of a finished dossier `d` (status 9, 10), its finish moved back by `waited` (an interval): on
 * time with no due date or no finish time to compare; else its finish day against its due day.
 */
function finishedStanding(waited: RawBuilder<unknown>): RawBuilder<string> {
  const finish = sql`coalesce(d.finished_at, d.returned_at)`;
  const finishDay = vietnamDay(sql`${finish} - ${waited}`);
  const dueDay = vietnamDay(sql`d.due_at`);
  return sql<string>`CASE
    WHEN d.status NOT IN (9, 10) THEN NULL
    WHEN d.due_at IS NULL OR ${finish} IS NULL THEN 'on_time'
    WHEN ${finishDay} < ${dueDay} THEN 'early'
    WHEN ${finishDay} = ${dueDay} THEN 'on_time'
    ELSE 'late'
  END`;
}

/** The bucket bounds as a float8[] literal (constants of the code, not input). */
const lagBounds = sql.raw(`ARRAY[${lagBucketBounds.join(', ')}]::float8[]`);
/** One count per bucket, 0 to lagBucketBounds.length (width_bucket's numbering), of rows with a `bucket` column. */
const lagBucketCounts = sql.join(
  Array.from(
    { length: lagBucketBounds.length + 1 },
    (_, bucket) => sql`count(*) FILTER (WHERE bucket = ${sql.lit(bucket)})::int`,
  ),
);

/** What one province's refresh did. */
export type ProvinceRefresh =
  | {
      provinceCode: string;
      /** The figures were recomputed. */
      outcome: 'refreshed';
      durationMs: number;
      /** Dossiers counted. */
      dossiers: number;
      /** Aggregate rows written. */
      rows: number;
      /** The change horizon the figures are complete to. */
      watermark: Date;
    }
  | {
      provinceCode: string;
      /** Nothing changed since the last refresh: the figures stand, and are marked checked. */
      outcome: 'unchanged';
      durationMs: number;
    }
  | {
      provinceCode: string;
      /** Another process is refreshing this province right now. */
      outcome: 'busy';
      durationMs: number;
    };

/** Options of a refresh. */
export interface RefreshOptions {
  /** The connectors of the province (their dead letters are counted): `connectorsByProvince`. */
  connectorIds: readonly string[];
  /** Recompute even when nothing changed since the last refresh. Default false. */
  force?: boolean;
}

/**
 * Takes the province's refresh lock for the rest of the transaction, if no other session holds it: several
 * processes refreshing on the same schedule never work on one province at once, and the one that finds it taken
 * moves on.
 */
export async function lockProvinceStats(trx: Transaction<Database>, provinceCode: string): Promise<boolean> {
  if (!/^\d{1,9}$/.test(provinceCode)) throw new RangeError(`${JSON.stringify(provinceCode)} is not a province code`);
  const { rows } = await sql<{ locked: boolean }>`
    SELECT pg_try_advisory_xact_lock(hashtext('dossier-sync:province-stats'), ${Number(provinceCode)}::int) AS locked
  `.execute(trx);
  return rows[0]!.locked;
}

/**
 * Recomputes a province's figures if its dossiers, their history or its connectors' dead letters changed since its
 * last refresh (or `force`): its daily rows, status snapshot and in-progress due days are replaced whole; the lag
 * histograms and dead letters, whose inputs are append-only, from the day of the last refresh's watermark on.
 *
 * The new watermark is the change horizon asked first, in a statement of its own: every row the statements after
 * it do not see has a synced_at / recorded_at / created_at at or after it, so the next refresh finds it.
 */
export async function refreshProvinceStats(
  db: Kysely<Database>,
  provinceCode: string,
  options: RefreshOptions,
): Promise<ProvinceRefresh> {
  const started = Date.now();
  return db.transaction().execute(async (trx): Promise<ProvinceRefresh> => {
    const horizon = await changeHorizon(trx);
    if (!(await lockProvinceStats(trx, provinceCode)))
      return { provinceCode, outcome: 'busy', durationMs: Date.now() - started };

    const last = await trx
      .selectFrom('stats_refresh')
      .select(['watermark', sql<string>`(watermark AT TIME ZONE 'Asia/Ho_Chi_Minh')::date::text`.as('watermark_day')])
      .where('province_code', '=', provinceCode)
      .executeTakeFirst();
    const connectorIds = [...options.connectorIds];

    if (last && !options.force && !(await changedSince(trx, provinceCode, connectorIds, last.watermark))) {
      // Nothing before the new horizon is missing either: the watermark moves on, and the figures are confirmed.
      await trx
        .updateTable('stats_refresh')
        .set({ checked_at: sql<Date>`now()`, watermark: horizon })
        .where('province_code', '=', provinceCode)
        .execute();
      return { provinceCode, outcome: 'unchanged', durationMs: Date.now() - started };
    }

    const since = last?.watermark_day ?? null;
    const daily = await replaceDailyStats(trx, provinceCode);
    const snapshot = await replaceStatusCounts(trx, provinceCode);
    const due = await replaceInProgressDue(trx, provinceCode);
    const lag = await refreshLag(trx, provinceCode, since);
    const deadLetters = await refreshDeadLetters(trx, connectorIds, since);
    const rows = daily + snapshot.rows + due + lag + deadLetters;
    const durationMs = Date.now() - started;

    await sql`
      INSERT INTO stats_refresh AS s (province_code, refreshed_at, checked_at, watermark, duration_ms, dossiers, rows)
      VALUES (${provinceCode}, now(), now(), ${horizon}, ${durationMs}, ${snapshot.dossiers}, ${rows})
      ON CONFLICT (province_code) DO UPDATE SET
        refreshed_at = excluded.refreshed_at, checked_at = excluded.checked_at, watermark = excluded.watermark,
        duration_ms = excluded.duration_ms, dossiers = excluded.dossiers, rows = excluded.rows
    `.execute(trx);
    return { provinceCode, outcome: 'refreshed', durationMs, dossiers: snapshot.dossiers, rows, watermark: horizon };
  });
}

/** Whether anything the figures count was written at or after `watermark`. */
async function changedSince(
  trx: Transaction<Database>,
  provinceCode: string,
  connectorIds: string[],
  watermark: Date,
): Promise<boolean> {
  // The history first: every new state of a dossier is a new row there, found through the BRIN index. A dossier
  // row can still move without one (the same state observed again, later), and dead letters have no dossier.
  const { rows } = await sql<{ changed: boolean }>`
    SELECT
      EXISTS (SELECT 1 FROM dossier_events WHERE province_code = ${provinceCode} AND recorded_at >= ${watermark})
      OR EXISTS (SELECT 1 FROM dossiers WHERE province_code = ${provinceCode} AND synced_at >= ${watermark})
      OR EXISTS (
        SELECT 1 FROM dead_letters WHERE connector_id = ANY(${connectorIds}::text[]) AND created_at >= ${watermark}
      ) AS changed
  `.execute(trx);
  return rows[0]!.changed;
}

/**
 * The province's daily rows, from one read of its dossiers: each dossier counts on its day of receipt (received,
 * by channel) and, once finished, on its day of finish with its standing — as it is, and net of the time it waited
 * on the applicant.
 */
async function replaceDailyStats(trx: Transaction<Database>, provinceCode: string): Promise<number> {
  await sql`DELETE FROM province_daily_stats WHERE province_code = ${provinceCode}`.execute(trx);
  const result = await sql`
    WITH waiting_dossiers AS (
      -- Through the partial index dossier_events_waiting: only dossiers that ever waited.
      SELECT DISTINCT dossier_code FROM dossier_events WHERE province_code = ${provinceCode} AND status IN (5, 6)
    ),
    waiting_history AS (
      -- waitingTime (deadline-standing.ts): each state lasts until the next one by source update time.
      SELECT e.dossier_code, e.status, e.source_updated_at,
        lead(e.source_updated_at) OVER (
          PARTITION BY e.dossier_code ORDER BY e.source_updated_at, e.source_version, e.observed_at, e.content_hash
        ) AS next_at,
        coalesce(d.finished_at, d.returned_at, d.source_updated_at) AS finish
      FROM waiting_dossiers w
      JOIN dossiers d ON d.province_code = ${provinceCode} AND d.dossier_code = w.dossier_code AND d.status IN (9, 10)
      JOIN dossier_events e ON e.province_code = ${provinceCode} AND e.dossier_code = w.dossier_code
    ),
    waiting AS (
      -- A last state still waiting lasts until the finish.
      SELECT dossier_code, sum(greatest(coalesce(next_at, finish) - source_updated_at, interval '0')) AS waited
      FROM waiting_history
      WHERE status IN (5, 6)
      GROUP BY dossier_code
    ),
    dossier_days AS (
      SELECT d.channel,
        ${vietnamDay(sql`d.received_at`)} AS received_day,
        CASE WHEN d.status IN (9, 10)
          THEN ${vietnamDay(sql`coalesce(d.finished_at, d.returned_at, d.source_updated_at)`)}
        END AS finished_day,
        ${finishedStanding(sql`interval '0'`)} AS standing,
        ${finishedStanding(sql`coalesce(w.waited, interval '0')`)} AS net_standing
      FROM dossiers d
      LEFT JOIN waiting w ON w.dossier_code = d.dossier_code
      WHERE d.province_code = ${provinceCode}
    )
    INSERT INTO province_daily_stats (
      province_code, day, received, received_in_person, received_online, received_by_post,
      finished, early, on_time, late, net_early, net_on_time, net_late
    )
    SELECT ${provinceCode}, c.day,
      count(*) FILTER (WHERE c.counted = 'received'),
      count(*) FILTER (WHERE c.counted = 'received' AND s.channel = 1),
      count(*) FILTER (WHERE c.counted = 'received' AND s.channel = 2),
      count(*) FILTER (WHERE c.counted = 'received' AND s.channel = 3),
      count(*) FILTER (WHERE c.counted = 'finished'),
      count(*) FILTER (WHERE c.counted = 'finished' AND s.standing = 'early'),
      count(*) FILTER (WHERE c.counted = 'finished' AND s.standing = 'on_time'),
      count(*) FILTER (WHERE c.counted = 'finished' AND s.standing = 'late'),
      count(*) FILTER (WHERE c.counted = 'finished' AND s.net_standing = 'early'),
      count(*) FILTER (WHERE c.counted = 'finished' AND s.net_standing = 'on_time'),
      count(*) FILTER (WHERE c.counted = 'finished' AND s.net_standing = 'late')
    FROM dossier_days s
    CROSS JOIN LATERAL (VALUES ('received', s.received_day), ('finished', s.finished_day)) AS c (counted, day)
    WHERE c.day IS NOT NULL
    GROUP BY c.day
  `.execute(trx);
  return Number(result.numAffectedRows ?? 0);
}

/** The province's dossiers by current status and channel. */
async function replaceStatusCounts(
  trx: Transaction<Database>,
  provinceCode: string,
): Promise<{ rows: number; dossiers: number }> {
  await sql`DELETE FROM province_status_counts WHERE province_code = ${provinceCode}`.execute(trx);
  const { rows } = await sql<{ count: number }>`
    INSERT INTO province_status_counts (province_code, status, channel, count)
    SELECT ${provinceCode}, status, coalesce(channel, 0), count(*)
    FROM dossiers
    WHERE province_code = ${provinceCode}
    GROUP BY status, coalesce(channel, 0)
    RETURNING count
  `.execute(trx);
  return { rows: rows.length, dossiers: rows.reduce((sum, row) => sum + row.count, 0) };
}

/** The province's dossiers in progress by due day (none without a due date: they are never overdue). */
async function replaceInProgressDue(trx: Transaction<Database>, provinceCode: string): Promise<number> {
  await sql`DELETE FROM province_in_progress_due WHERE province_code = ${provinceCode}`.execute(trx);
  const result = await sql`
    INSERT INTO province_in_progress_due (province_code, due_day, count)
    SELECT ${provinceCode}, ${vietnamDay(sql`due_at`)}, count(*)
    FROM dossiers
    WHERE province_code = ${provinceCode} AND status IN (2, 4, 5, 6) AND due_at IS NOT NULL
    GROUP BY 2
  `.execute(trx);
  return Number(result.numAffectedRows ?? 0);
}

/**
 * The lag histograms of the province's history states recorded on `since` (a Vietnam day) or later; every day when
 * `since` is null. States are never changed or removed, so earlier days stand.
 */
async function refreshLag(trx: Transaction<Database>, provinceCode: string, since: string | null): Promise<number> {
  const from = since === null ? sql`'-infinity'::timestamptz` : startOfVietnamDay(since);
  await sql`
    DELETE FROM connector_daily_lag WHERE province_code = ${provinceCode} AND day >= ${vietnamDay(from)}
  `.execute(trx);
  const result = await sql`
    INSERT INTO connector_daily_lag (province_code, connector_id, day, buckets, count, sum_seconds, max_seconds)
    SELECT ${provinceCode}, connector_id, day, ARRAY[${lagBucketCounts}], count(*), sum(lag), max(lag)
    FROM (
      SELECT connector_id, day, lag, width_bucket(lag, ${lagBounds}) AS bucket
      FROM (
        SELECT e.connector_id, ${vietnamDay(sql`e.recorded_at`)} AS day,
          greatest(0, extract(epoch FROM e.recorded_at - e.source_updated_at)::float8) AS lag
        FROM dossier_events e
        WHERE e.province_code = ${provinceCode} AND e.recorded_at >= ${from}
      ) AS states
    ) AS bucketed
    GROUP BY connector_id, day
  `.execute(trx);
  return Number(result.numAffectedRows ?? 0);
}

/** The dead letters of the province's connectors by day and reason, from `since` on (every day when null). */
async function refreshDeadLetters(
  trx: Transaction<Database>,
  connectorIds: string[],
  since: string | null,
): Promise<number> {
  if (connectorIds.length === 0) return 0;
  const from = since === null ? sql`'-infinity'::timestamptz` : startOfVietnamDay(since);
  await sql`
    DELETE FROM connector_daily_dead_letters
    WHERE connector_id = ANY(${connectorIds}::text[]) AND day >= ${vietnamDay(from)}
  `.execute(trx);
  const result = await sql`
    INSERT INTO connector_daily_dead_letters (connector_id, day, reason, count)
    SELECT connector_id, ${vietnamDay(sql`created_at`)}, reason, count(*)
    FROM dead_letters
    WHERE connector_id = ANY(${connectorIds}::text[]) AND created_at >= ${from}
    GROUP BY 1, 2, 3
  `.execute(trx);
  return Number(result.numAffectedRows ?? 0);
}
