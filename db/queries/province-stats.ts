import { sql, type Kysely } from 'kysely';
import { vietnamDate } from '../../workers/read-model/deadline-standing.js';
import { lagBucketBounds, type LagHistogram } from '../../workers/read-model/lag-histogram.js';
import type { Database } from '../schema.js';
import { connectorsByProvince, type ProvinceConnector } from './province-connectors.js';

// Reads a province's statistics from the aggregates the refresh keeps (db/queries/refresh-province-stats.ts): a few
// hundred rows at most, whatever the number of dossiers. Never reads `dossiers` or `dossier_events`.

/** A period of Vietnam calendar days, both ends included (`yyyy-MM-dd`). */
export interface StatsPeriod {
  from: string;
  to: string;
}

/** Counts of the dossiers received, and finished, on the days of a period. */
export interface PeriodCounts {
  received: number;
  receivedInPerson: number;
  receivedOnline: number;
  receivedByPost: number;
  finished: number;
  early: number;
  onTime: number;
  late: number;
  /** The standings with the applicant's waiting time taken out. */
  netEarly: number;
  netOnTime: number;
  netLate: number;
}

/** One connector of a province, with its sync over the period. */
export interface ConnectorFigures {
  id: string;
  /** Its state; `unregistered` for a connector id found only in the history. */
  state: ProvinceConnector['state'] | 'unregistered';
  lastSuccessAt: Date | null;
  pushLastCommittedAt: Date | null;
  /** The lag of the states it delivered that were recorded in the period. */
  lag: LagHistogram & { sumSeconds: number };
  /** Its dead letters created in the period, by reason. */
  deadLetters: { reason: string; count: number }[];
}

/** A province's figures as stored, for one period. */
export interface ProvinceFigures {
  provinceCode: string;
  /** When the figures were computed; null if never. */
  refreshedAt: Date | null;
  /** When a refresh last found nothing changed since; null if never. */
  checkedAt: Date | null;
  /** Current dossiers by status and channel (0: none given). */
  byStatusAndChannel: { status: number; channel: number; count: number }[];
  period: PeriodCounts;
  /** Dossiers in progress (2, 4, 5, 6) whose due day is before today (Vietnam), today being that of `now`. */
  overdueInProgress: number;
  connectors: ConnectorFigures[];
}

const emptyPeriod: PeriodCounts = {
  received: 0,
  receivedInPerson: 0,
  receivedOnline: 0,
  receivedByPost: 0,
  finished: 0,
  early: 0,
  onTime: 0,
  late: 0,
  netEarly: 0,
  netOnTime: 0,
  netLate: 0,
};

const emptyHistogram = () => ({
  buckets: new Array<number>(lagBucketBounds.length + 1).fill(0),
  count: 0,
  maxSeconds: 0,
  sumSeconds: 0,
});

/** One province's figures over `period`; overdue as of `now`. */
export async function provinceStats(
  db: Kysely<Database>,
  provinceCode: string,
  period: StatsPeriod,
  now: Date,
): Promise<ProvinceFigures> {
  const [figures] = await provincesStats(db, [provinceCode], period, now);
  return figures!;
}

/**
 * Several provinces' figures over `period`, in the order asked, read in one repeatable-read transaction so that
 * each province's figures come from one refresh.
 */
export async function provincesStats(
  db: Kysely<Database>,
  provinceCodes: readonly string[],
  period: StatsPeriod,
  now: Date,
): Promise<ProvinceFigures[]> {
  const codes = [...provinceCodes];
  const today = vietnamDate(now);
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      const refreshes = await trx
        .selectFrom('stats_refresh')
        .select(['province_code', 'refreshed_at', 'checked_at'])
        .where('province_code', 'in', codes)
        .execute();

      const { rows: periodRows } = await sql<{ province_code: string } & Record<keyof PeriodCounts, string>>`
        SELECT province_code,
          sum(received) AS "received", sum(received_in_person) AS "receivedInPerson",
          sum(received_online) AS "receivedOnline", sum(received_by_post) AS "receivedByPost",
          sum(finished) AS "finished", sum(early) AS "early", sum(on_time) AS "onTime", sum(late) AS "late",
          sum(net_early) AS "netEarly", sum(net_on_time) AS "netOnTime", sum(net_late) AS "netLate"
        FROM province_daily_stats
        WHERE province_code = ANY(${codes}::text[]) AND day BETWEEN ${period.from}::date AND ${period.to}::date
        GROUP BY province_code
      `.execute(trx);

      const statusRows = await trx
        .selectFrom('province_status_counts')
        .select(['province_code', 'status', 'channel', 'count'])
        .where('province_code', 'in', codes)
        .orderBy('province_code')
        .orderBy('status')
        .orderBy('channel')
        .execute();

      const { rows: overdueRows } = await sql<{ province_code: string; overdue: string }>`
        SELECT province_code, sum(count) AS overdue
        FROM province_in_progress_due
        WHERE province_code = ANY(${codes}::text[]) AND due_day < ${today}::date
        GROUP BY province_code
      `.execute(trx);

      // The period's daily histograms of each connector, added bucket by bucket.
      const { rows: lagRows } = await sql<{
        province_code: string;
        connector_id: string;
        buckets: number[];
        count: string;
        sum_seconds: number;
        max_seconds: number;
      }>`
        WITH days AS (
          SELECT * FROM connector_daily_lag
          WHERE province_code = ANY(${codes}::text[]) AND day BETWEEN ${period.from}::date AND ${period.to}::date
        ),
        buckets AS (
          SELECT d.province_code, d.connector_id, b.bucket, sum(b.n)::int AS n
          FROM days d CROSS JOIN LATERAL unnest(d.buckets) WITH ORDINALITY AS b (n, bucket)
          GROUP BY 1, 2, 3
        )
        SELECT d.province_code, d.connector_id, sum(d.count) AS count, sum(d.sum_seconds) AS sum_seconds,
          max(d.max_seconds) AS max_seconds,
          (SELECT array_agg(b.n ORDER BY b.bucket) FROM buckets b
            WHERE b.province_code = d.province_code AND b.connector_id = d.connector_id) AS buckets
        FROM days d
        GROUP BY d.province_code, d.connector_id
        ORDER BY d.province_code, d.connector_id
      `.execute(trx);

      const connectors = await connectorsByProvince(trx);
      const everyConnector = new Map([...connectors.values()].flat().map((connector) => [connector.id, connector]));
      const connectorIds = codes.flatMap((code) => (connectors.get(code) ?? []).map(({ id }) => id));
      const { rows: deadLetterRows } = await sql<{ connector_id: string; reason: string; count: string }>`
        SELECT connector_id, reason, sum(count) AS count
        FROM connector_daily_dead_letters
        WHERE connector_id = ANY(${connectorIds}::text[]) AND day BETWEEN ${period.from}::date AND ${period.to}::date
        GROUP BY connector_id, reason
        ORDER BY connector_id, reason
      `.execute(trx);

      return codes.map((provinceCode): ProvinceFigures => {
        const refresh = refreshes.find((row) => row.province_code === provinceCode);
        const periodRow = periodRows.find((row) => row.province_code === provinceCode);
        const registered = connectors.get(provinceCode) ?? [];
        const lagOf = new Map(
          lagRows
            .filter((row) => row.province_code === provinceCode)
            .map((row) => [
              row.connector_id,
              {
                buckets: row.buckets,
                count: Number(row.count),
                maxSeconds: row.max_seconds,
                sumSeconds: row.sum_seconds,
              },
            ]),
        );
        const figures = (id: string, known: ProvinceConnector | undefined): ConnectorFigures => ({
          id,
          state: known?.state ?? 'unregistered',
          lastSuccessAt: known?.lastSuccessAt ?? null,
          pushLastCommittedAt: known?.pushLastCommittedAt ?? null,
          lag: lagOf.get(id) ?? emptyHistogram(),
          // A connector's dead letters are its own province's, counted there only.
          deadLetters: deadLetterRows
            .filter((row) => row.connector_id === id && known?.provinceCode === provinceCode)
            .map((row) => ({ reason: row.reason, count: Number(row.count) })),
        });
        const shown = registered
          .map((connector) => figures(connector.id, connector))
          // A removed connector is shown only for a period it synced or dead-lettered in.
          .filter(
            (connector) => connector.state !== 'removed' || connector.lag.count > 0 || connector.deadLetters.length > 0,
          );
        // A connector of another province (a system holding several provinces' dossiers), or not registered at all.
        for (const id of lagOf.keys())
          if (!registered.some((connector) => connector.id === id)) shown.push(figures(id, everyConnector.get(id)));
        return {
          provinceCode,
          refreshedAt: refresh?.refreshed_at ?? null,
          checkedAt: refresh?.checked_at ?? null,
          byStatusAndChannel: statusRows
            .filter((row) => row.province_code === provinceCode)
            .map(({ status, channel, count }) => ({ status, channel, count })),
          period: periodRow
            ? (Object.fromEntries(
                Object.keys(emptyPeriod).map((key) => [key, Number(periodRow[key as keyof PeriodCounts])]),
              ) as unknown as PeriodCounts)
            : { ...emptyPeriod },
          overdueInProgress: Number(overdueRows.find((row) => row.province_code === provinceCode)?.overdue ?? 0),
          connectors: shown.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
        };
      });
    });
}
