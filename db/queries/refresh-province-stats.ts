import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import { lagBucketBounds } from '../../workers/read-model/lag-histogram.js';
import type { Database } from '../schema.js';
import { changeHorizon, declareDossierReader } from './change-horizon.js';

// Recomputes one province's statistics (db/migrations/0009-province-daily-stats.ts) from `dossiers`,
// `dossier_events` and `dead_letters`, in one transaction: readers see the old figures or the new, never a mix.
// The rules are those of workers/read-model/deadline-standing.ts, on Vietnam calendar days; a test holds the two
// together (test/workers/read-model/province-stats-equal-a-direct-computation.test.ts).

/**
 * Vietnam's offset from UTC, as vietnamDate (deadline-standing.ts) applies it: +07:00, kept since 1975 without
 * daylight saving. A fixed offset gives the same day as the zone 'Asia/Ho_Chi_Minh' for every instant since then,
 * exactly vietnamDate's for any instant, and costs half as much per conversion (measured over 1 M dossiers).
 */
const vietnamOffset = sql.raw(`INTERVAL '+07:00'`);

/** The calendar day in Vietnam of a timestamptz expression. */
function vietnamDay(instant: RawBuilder<unknown>): RawBuilder<string> {
  return sql<string>`((${instant}) AT TIME ZONE ${vietnamOffset})::date`;
}

/** The first instant of a Vietnam calendar day (`yyyy-MM-dd`). */
function startOfVietnamDay(day: string): RawBuilder<Date> {
  return sql<Date>`(${day}::date::timestamp AT TIME ZONE ${vietnamOffset})`;
}

/**
 * deadlineStanding of a finished dossier (status 9, 10) from its Vietnam days: early before its due day, on time on
 * it, late after it; on time too with no due date or no finish time to compare (a null difference). A simple CASE,
 * so the days are computed once.
 */
function finishedStanding(finishDay: RawBuilder<unknown>, dueDay: RawBuilder<unknown>): RawBuilder<string> {
  return sql<string>`CASE sign(${finishDay} - ${dueDay}) WHEN -1 THEN 'early' WHEN 1 THEN 'late' ELSE 'on_time' END`;
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
 * last refresh (or `force`): its daily rows, status snapshot and in-progress due days are replaced whole; what is
 * drawn from append-only inputs only from the last refresh's watermark on: the waiting times of the dossiers with new
 * states, the lag histograms and dead letters of the days since.
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
    await declareDossierReader(trx);
    if (!(await lockProvinceStats(trx, provinceCode)))
      return { provinceCode, outcome: 'busy', durationMs: Date.now() - started };

    const last = await trx
      .selectFrom('stats_refresh')
      .select(['watermark', sql<string>`${vietnamDay(sql`watermark`)}::text`.as('watermark_day')])
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

    // A background job's statements over a whole partition: sorts and hashes in memory rather than on disk, and no
    // JIT, whose compilation took longer than it saved on these plans (measured at 1 M dossiers).
    await sql`SET LOCAL work_mem = '64MB'`.execute(trx);
    await sql`SET LOCAL jit = off`.execute(trx);
    const since = last?.watermark_day ?? null;
    const waiting = await refreshWaitingTime(trx, provinceCode, last?.watermark ?? null);
    const daily = await replaceDailyStats(trx, provinceCode);
    const snapshot = await replaceSnapshot(trx, provinceCode);
    const lag = await refreshLag(trx, provinceCode, since);
    const deadLetters = await refreshDeadLetters(trx, connectorIds, since);
    const rows = waiting + daily + snapshot.rows + lag + deadLetters;
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
 * Each dossier's waiting time, for the dossiers that ever waited and have states recorded since `since` (all of them
 * when `since` is null): waitingTime of deadline-standing.ts, each state lasting until the next one by source update
 * time (ties in source version order), the last one kept open.
 */
async function refreshWaitingTime(
  trx: Transaction<Database>,
  provinceCode: string,
  since: Date | null,
): Promise<number> {
  if (since === null) await sql`DELETE FROM dossier_waiting_time WHERE province_code = ${provinceCode}`.execute(trx);
  // Through the partial index dossier_events_waiting: only dossiers that ever waited; and the BRIN index for the new.
  const touched =
    since === null
      ? sql`SELECT DISTINCT dossier_code FROM dossier_events WHERE province_code = ${provinceCode} AND status IN (5, 6)`
      : sql`
        SELECT n.dossier_code FROM new_states n
        WHERE EXISTS (
          SELECT 1 FROM dossier_events w
          WHERE w.province_code = ${provinceCode} AND w.dossier_code = n.dossier_code AND w.status IN (5, 6)
        )`;
  // The dossiers with new states first, by themselves: the planner cannot tell how few they are against the
  // dossiers that ever waited, and would otherwise walk all of those.
  const newStates =
    since === null
      ? sql``
      : sql`new_states AS MATERIALIZED (
          SELECT DISTINCT dossier_code FROM dossier_events
          WHERE province_code = ${provinceCode} AND recorded_at >= ${since}
        ),`;
  const result = await sql`
    WITH ${newStates} touched AS (${touched}),
    states AS (
      SELECT e.dossier_code, e.status, e.source_updated_at,
        lead(e.source_updated_at) OVER (
          PARTITION BY e.dossier_code ORDER BY e.source_updated_at, e.source_version, e.observed_at, e.content_hash
        ) AS next_at
      FROM touched t
      JOIN dossier_events e ON e.province_code = ${provinceCode} AND e.dossier_code = t.dossier_code
    )
    INSERT INTO dossier_waiting_time AS w (province_code, dossier_code, waited, waiting_since)
    SELECT ${provinceCode}, dossier_code,
      coalesce(sum(next_at - source_updated_at) FILTER (WHERE status IN (5, 6) AND next_at IS NOT NULL), interval '0'),
      max(source_updated_at) FILTER (WHERE status IN (5, 6) AND next_at IS NULL)
    FROM states
    GROUP BY dossier_code
    ON CONFLICT (province_code, dossier_code) DO UPDATE SET
      waited = excluded.waited, waiting_since = excluded.waiting_since
  `.execute(trx);
  return Number(result.numAffectedRows ?? 0);
}

/**
 * The province's daily rows: each dossier counts on its day of receipt (received, by channel) and, once finished,
 * on its day of finish with its standing — as it is, and net of the time it waited on the applicant (a last state
 * still waiting lasts until the finish).
 */
async function replaceDailyStats(trx: Transaction<Database>, provinceCode: string): Promise<number> {
  await sql`DELETE FROM province_daily_stats WHERE province_code = ${provinceCode}`.execute(trx);
  const received = await sql`
    INSERT INTO province_daily_stats (
      province_code, day, received, received_in_person, received_online, received_by_post
    )
    SELECT ${provinceCode}, ${vietnamDay(sql`received_at`)},
      count(*), count(*) FILTER (WHERE channel = 1), count(*) FILTER (WHERE channel = 2),
      count(*) FILTER (WHERE channel = 3)
    FROM dossiers
    WHERE province_code = ${provinceCode} AND received_at IS NOT NULL
    GROUP BY 2
  `.execute(trx);
  const finish = sql`coalesce(d.finished_at, d.returned_at)`;
  // Moved back by the waiting time, for a dossier that ever waited (a last state still waiting lasts until the
  // finish); the others, most of them, are spared the arithmetic.
  const netFinish = sql`
    CASE WHEN w.dossier_code IS NULL THEN ${finish}
      ELSE ${finish} - w.waited - CASE WHEN w.waiting_since IS NULL THEN interval '0'
        ELSE greatest(coalesce(${finish}, d.source_updated_at) - w.waiting_since, interval '0') END
    END`;
  const dueDay = vietnamDay(sql`d.due_at`);
  const finished = await sql`
    WITH finished AS (
      SELECT ${vietnamDay(sql`coalesce(${finish}, d.source_updated_at)`)} AS day,
        ${finishedStanding(vietnamDay(finish), dueDay)} AS standing,
        ${finishedStanding(vietnamDay(netFinish), dueDay)} AS net_standing
      FROM dossiers d
      LEFT JOIN dossier_waiting_time w ON w.province_code = ${provinceCode} AND w.dossier_code = d.dossier_code
      WHERE d.province_code = ${provinceCode} AND d.status IN (9, 10)
    ),
    -- Grouped by standing first: each standing is computed once per dossier, not once per count below.
    counted AS (SELECT day, standing, net_standing, count(*) AS n FROM finished GROUP BY day, standing, net_standing)
    INSERT INTO province_daily_stats AS s (
      province_code, day, finished, early, on_time, late, net_early, net_on_time, net_late
    )
    SELECT ${provinceCode}, day, sum(n),
      coalesce(sum(n) FILTER (WHERE standing = 'early'), 0),
      coalesce(sum(n) FILTER (WHERE standing = 'on_time'), 0),
      coalesce(sum(n) FILTER (WHERE standing = 'late'), 0),
      coalesce(sum(n) FILTER (WHERE net_standing = 'early'), 0),
      coalesce(sum(n) FILTER (WHERE net_standing = 'on_time'), 0),
      coalesce(sum(n) FILTER (WHERE net_standing = 'late'), 0)
    FROM counted
    GROUP BY day
    ON CONFLICT (province_code, day) DO UPDATE SET
      finished = excluded.finished, early = excluded.early, on_time = excluded.on_time, late = excluded.late,
      net_early = excluded.net_early, net_on_time = excluded.net_on_time, net_late = excluded.net_late
  `.execute(trx);
  return Number(received.numAffectedRows ?? 0) + Number(finished.numAffectedRows ?? 0);
}

/**
 * The province's current snapshot, from one read of its dossiers: by status and channel, and those in progress by due
 * day (none without a due date: they are never overdue).
 */
async function replaceSnapshot(
  trx: Transaction<Database>,
  provinceCode: string,
): Promise<{ rows: number; dossiers: number }> {
  await sql`DELETE FROM province_status_counts WHERE province_code = ${provinceCode}`.execute(trx);
  await sql`DELETE FROM province_in_progress_due WHERE province_code = ${provinceCode}`.execute(trx);
  const { rows } = await sql<{ dossiers: number; rows: number }>`
    WITH counted AS MATERIALIZED (
      SELECT status, coalesce(channel, 0) AS channel,
        CASE WHEN status IN (2, 4, 5, 6) THEN ${vietnamDay(sql`due_at`)} END AS due_day,
        count(*)::int AS n
      FROM dossiers
      WHERE province_code = ${provinceCode}
      GROUP BY 1, 2, 3
    ),
    by_status AS (
      INSERT INTO province_status_counts (province_code, status, channel, count)
      SELECT ${provinceCode}, status, channel, sum(n) FROM counted GROUP BY status, channel
      RETURNING 1
    ),
    due AS (
      INSERT INTO province_in_progress_due (province_code, due_day, count)
      SELECT ${provinceCode}, due_day, sum(n) FROM counted WHERE due_day IS NOT NULL GROUP BY due_day
      RETURNING 1
    )
    SELECT (SELECT coalesce(sum(n), 0) FROM counted)::int AS dossiers,
      ((SELECT count(*) FROM by_status) + (SELECT count(*) FROM due))::int AS rows
  `.execute(trx);
  return rows[0]!;
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
