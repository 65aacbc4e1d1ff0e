import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { dossierStatuses, statusCodes } from '../../../connectors/sdk/dossier-status.js';
import { currentProvince, resolveProvince } from '../../../config/provinces.js';
import {
  provincesStats,
  type ConnectorFigures,
  type PeriodCounts,
  type ProvinceFigures,
  type StatsPeriod as Period,
} from '../../../db/queries/province-stats.js';
import type { Database } from '../../../db/schema.js';
import { vietnamDate } from '../../read-model/deadline-standing.js';
import { lagQuantile, mergeLagHistograms, type LagHistogram } from '../../read-model/lag-histogram.js';
import { heldProvinces, holds, isProvinceBound, notHeldDetail } from '../../control-plane/province-scope.js';
import { problem, problemResponses, sendProblem } from '../problem.js';
import { jsonResponse } from '../openapi.js';

// The statistics a province is scored on by the national service-quality index (Decision 766/QĐ-TTg), read from
// the daily aggregates the scheduler refreshes (workers/read-model/stats-refresher.ts). README, "Statistics", says
// which rule each figure follows.

/** The longest period one request may ask, in days. */
export const maxPeriodDays = 366;
/** The period's length when `from` is not given, in days (ending on `to`). */
export const defaultPeriodDays = 30;

/** A number of dossiers, days or writes. */
const count = z.int().min(0);

const day = z.iso
  .date({ message: 'expected a calendar day as yyyy-MM-dd, e.g. 2026-11-30' })
  .describe('a calendar day in Vietnam (Asia/Ho_Chi_Minh), yyyy-MM-dd');

const StatsQuery = z.strictObject({
  from: day.optional().describe(`first day of the period, included; default: ${defaultPeriodDays - 1} days before to`),
  to: day
    .optional()
    .describe(`last day of the period, included; default: today in Vietnam; at most ${maxPeriodDays} days after from`),
});

const ProvinceParams = z.strictObject({
  provinceCode: z.string().max(8).describe('a current (2025) province code, e.g. 79'),
});

const StatsPeriod = z
  .object({
    from: day,
    to: day,
    days: count.describe('days in the period, both ends included'),
    timeZone: z.literal('Asia/Ho_Chi_Minh'),
  })
  .meta({ id: 'StatsPeriod', description: 'the days counted: calendar days in Vietnam, both ends included' });

const StatusCount = z
  .object({
    status: z.int().min(1).max(10).describe('the national status code'),
    label: z.string().describe('the national label of the status'),
    count,
  })
  .meta({ id: 'StatusCount' });

const ChannelCounts = z
  .object({
    inPerson: count.describe('channel 1'),
    online: count.describe('channel 2'),
    post: count.describe('channel 3 (public post)'),
    unspecified: count.describe('no channel given by the source'),
  })
  .meta({ id: 'ChannelCounts' });

const DeadlineFigures = z
  .object({
    early: count.describe('finished in the period before the due day'),
    onTime: count.describe('finished in the period on the due day, or with no due date'),
    late: count.describe('finished in the period after the due day'),
    onTimeRate: z
      .number()
      .min(0)
      .max(1)
      .nullable()
      .describe('(early + onTime) / finished in the period; null when none finished'),
  })
  .meta({ id: 'DeadlineFigures', description: "domain.md's standing of the dossiers finished in the period" });

const LagFigures = z
  .object({
    writes: count.describe('history states recorded in the period'),
    p50Seconds: z.number().nullable(),
    p95Seconds: z.number().nullable(),
    maxSeconds: z.number().nullable(),
    meanSeconds: z.number().nullable(),
  })
  .meta({
    id: 'LagFigures',
    description:
      'source update → central write (recorded_at − source_updated_at) of the states recorded in the period. A quantile is the upper bound of the first histogram bucket whose cumulative count reaches its nearest rank, capped at the largest lag; null when nothing was recorded',
  });

const DeadLetterCount = z.object({ reason: z.string(), count: count }).meta({ id: 'DeadLetterCount' });

const DeadLetterFigures = z
  .object({ total: count, byReason: z.array(DeadLetterCount) })
  .meta({ id: 'DeadLetterFigures', description: 'dead letters created in the period, whatever became of them' });

const ConnectorSync = z
  .object({
    connectorId: z.string(),
    state: z.enum(['active', 'paused', 'removed', 'unregistered']),
    lastPollSuccessAt: z.iso.datetime().nullable().describe('the last successful poll run'),
    lastPushCommittedAt: z.iso.datetime().nullable().describe('when pushed updates of it were last committed'),
    secondsSinceLastSuccess: z
      .number()
      .nullable()
      .describe('seconds from the later of the two to the answer; null when neither ever happened'),
    lag: LagFigures,
    deadLetters: DeadLetterFigures,
  })
  .meta({ id: 'ConnectorSync', description: "one connector's sync freshness" });

const DossierCounts = z
  .object({
    total: count,
    byStatus: z.array(StatusCount).describe('every status 1 to 10, in order'),
    byChannel: ChannelCounts,
  })
  .meta({ id: 'DossierCounts', description: 'every dossier as it stands now, whatever the period' });

const StatsFigures = {
  dossiers: DossierCounts,
  received: z
    .object({ total: count, byChannel: ChannelCounts })
    .describe('dossiers received (received_at) on a day of the period'),
  finished: count.describe('dossiers finished (status 9, 10) on a day of the period, by finish (else return) time'),
  deadline: DeadlineFigures,
  deadlineNetOfApplicantWaiting: DeadlineFigures.describe(
    'the same, each finish moved back by the time the dossier spent waiting on the applicant (statuses 5, 6 in its history)',
  ),
  overdueInProgress: z
    .int()
    .describe(
      'dossiers in progress (2, 4, 5, 6) whose due day is before today in Vietnam: as of now, whatever the period',
    ),
  onlineShare: z.number().min(0).max(1).nullable().describe('received online (channel 2) / received; null when none'),
  lag: LagFigures,
  deadLetters: DeadLetterFigures,
};

const ProvinceStats = z
  .object({
    provinceCode: z.string(),
    provinceName: z.string(),
    period: StatsPeriod,
    refreshedAt: z.iso
      .datetime()
      .nullable()
      .describe('when the figures were computed; null before the first refresh (every figure is then 0)'),
    checkedAt: z.iso
      .datetime()
      .nullable()
      .describe('when a refresh last found nothing changed since: the figures count every change committed before it'),
    ...StatsFigures,
    connectors: z.array(ConnectorSync).describe("the province's connectors, by id"),
  })
  .meta({ id: 'ProvinceStats', description: "a province's figures for the service-quality index" });

const NationalStats = z
  .object({
    period: StatsPeriod,
    refreshedAt: z.iso
      .datetime()
      .nullable()
      .describe("the oldest province's refreshedAt; null while a province was never refreshed"),
    national: z
      .object(StatsFigures)
      .meta({ id: 'NationalTotals', description: 'the 34 provinces together (a province key: its provinces)' }),
    provinces: z.array(ProvinceStats).describe('one row per current province, by code'),
  })
  .meta({ id: 'NationalStats' });

/** The answer of `GET /v1/provinces/{provinceCode}/stats`. */
export type ProvinceStatsBody = z.infer<typeof ProvinceStats>;
/** The answer of `GET /v1/stats`. */
export type NationalStatsBody = z.infer<typeof NationalStats>;
type Figures = z.infer<z.ZodObject<typeof StatsFigures>>;

/** What the statistics routes need. */
export interface StatsRoutesOptions {
  db: Kysely<Database>;
  /** The clock: today's date and the freshness are taken from it. Default: the system clock. */
  now?: () => Date;
}

/** The days from `day` on by `days` (negative: back), as `yyyy-MM-dd`. */
function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** Days from `from` to `to`, both included. */
function daysIn(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1;
}

/** The period a query asks, with its defaults; or the parameter that is wrong and why. */
export function resolvePeriod(
  query: { from?: string | undefined; to?: string | undefined },
  now: Date,
): Period | { parameter: 'from' | 'to'; message: string } {
  const to = query.to ?? vietnamDate(now);
  const from = query.from ?? addDays(to, -(defaultPeriodDays - 1));
  if (to < from)
    return { parameter: query.to === undefined ? 'from' : 'to', message: `${to} is before from (${from})` };
  if (daysIn(from, to) > maxPeriodDays)
    return {
      parameter: query.to === undefined ? 'from' : 'to',
      message: `the period ${from} to ${to} is ${daysIn(from, to)} days; expected at most ${maxPeriodDays}`,
    };
  return { from, to };
}

const rate = (part: number, whole: number) => (whole === 0 ? null : part / whole);

function deadline(early: number, onTime: number, late: number) {
  return { early, onTime, late, onTimeRate: rate(early + onTime, early + onTime + late) };
}

function lagFigures(histogram: LagHistogram & { sumSeconds: number }) {
  const none = histogram.count === 0;
  return {
    writes: histogram.count,
    p50Seconds: lagQuantile(histogram, 0.5),
    p95Seconds: lagQuantile(histogram, 0.95),
    maxSeconds: none ? null : histogram.maxSeconds,
    meanSeconds: none ? null : histogram.sumSeconds / histogram.count,
  };
}

function mergeLag(histograms: readonly (LagHistogram & { sumSeconds: number })[]) {
  return {
    ...mergeLagHistograms(histograms),
    sumSeconds: histograms.reduce((sum, histogram) => sum + histogram.sumSeconds, 0),
  };
}

function deadLetterFigures(counts: readonly { reason: string; count: number }[]) {
  const byReason = new Map<string, number>();
  for (const { reason, count } of counts) byReason.set(reason, (byReason.get(reason) ?? 0) + count);
  return {
    total: [...byReason.values()].reduce((sum, count) => sum + count, 0),
    byReason: [...byReason.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([reason, count]) => ({ reason, count })),
  };
}

/** The figures of a set of stored counts: one province's, or the nation's. */
function figures(
  byStatusAndChannel: ProvinceFigures['byStatusAndChannel'],
  period: PeriodCounts,
  overdueInProgress: number,
  connectors: readonly ConnectorFigures[],
): Figures {
  const byStatus = new Map<number, number>();
  const byChannel = { inPerson: 0, online: 0, post: 0, unspecified: 0 };
  for (const { status, channel, count } of byStatusAndChannel) {
    byStatus.set(status, (byStatus.get(status) ?? 0) + count);
    if (channel === 1) byChannel.inPerson += count;
    else if (channel === 2) byChannel.online += count;
    else if (channel === 3) byChannel.post += count;
    else byChannel.unspecified += count;
  }
  const total = [...byStatus.values()].reduce((sum, count) => sum + count, 0);
  const receivedElsewhere = period.received - period.receivedInPerson - period.receivedOnline - period.receivedByPost;
  return {
    dossiers: {
      total,
      byStatus: statusCodes.map((status) => ({
        status,
        label: dossierStatuses[status].vi,
        count: byStatus.get(status) ?? 0,
      })),
      byChannel,
    },
    received: {
      total: period.received,
      byChannel: {
        inPerson: period.receivedInPerson,
        online: period.receivedOnline,
        post: period.receivedByPost,
        unspecified: receivedElsewhere,
      },
    },
    finished: period.finished,
    deadline: deadline(period.early, period.onTime, period.late),
    deadlineNetOfApplicantWaiting: deadline(period.netEarly, period.netOnTime, period.netLate),
    overdueInProgress,
    onlineShare: rate(period.receivedOnline, period.received),
    lag: lagFigures(mergeLag(connectors.map((connector) => connector.lag))),
    deadLetters: deadLetterFigures(connectors.flatMap((connector) => connector.deadLetters)),
  };
}

const iso = (time: Date | null) => (time === null ? null : time.toISOString());

function periodBody(period: Period) {
  return { ...period, days: daysIn(period.from, period.to), timeZone: 'Asia/Ho_Chi_Minh' as const };
}

function provinceBody(stored: ProvinceFigures, period: Period, now: Date): ProvinceStatsBody {
  return {
    provinceCode: stored.provinceCode,
    provinceName: currentProvince(stored.provinceCode)?.name ?? stored.provinceCode,
    period: periodBody(period),
    refreshedAt: iso(stored.refreshedAt),
    checkedAt: iso(stored.checkedAt),
    ...figures(stored.byStatusAndChannel, stored.period, stored.overdueInProgress, stored.connectors),
    connectors: stored.connectors.map((connector) => {
      const times = [connector.lastSuccessAt, connector.pushLastCommittedAt].filter((time) => time !== null);
      const last = times.length === 0 ? null : Math.max(...times.map((time) => time.getTime()));
      return {
        connectorId: connector.id,
        state: connector.state,
        lastPollSuccessAt: iso(connector.lastSuccessAt),
        lastPushCommittedAt: iso(connector.pushLastCommittedAt),
        secondsSinceLastSuccess: last === null ? null : Math.max(0, now.getTime() - last) / 1000,
        lag: lagFigures(connector.lag),
        deadLetters: deadLetterFigures(connector.deadLetters),
      };
    }),
  };
}

/** The nation's figures: every province's counts added, rates and quantiles taken from the sums. */
function nationalFigures(provinces: readonly ProvinceFigures[]): Figures {
  const period = { ...provinces[0]!.period };
  for (const key of Object.keys(period) as (keyof PeriodCounts)[])
    period[key] = provinces.reduce((sum, province) => sum + province.period[key], 0);
  return figures(
    provinces.flatMap((province) => province.byStatusAndChannel),
    period,
    provinces.reduce((sum, province) => sum + province.overdueInProgress, 0),
    provinces.flatMap((province) => province.connectors),
  );
}

/** Registers `GET /provinces/{provinceCode}/stats` and `GET /stats` on the read API. */
export function registerStatsRoutes(api: FastifyInstance, options: StatsRoutesOptions): void {
  const routes = api.withTypeProvider<ZodTypeProvider>();
  const clock = options.now ?? (() => new Date());

  routes.get(
    '/provinces/:provinceCode/stats',
    {
      schema: {
        summary: "A province's service-quality figures over a period",
        description:
          'Read from daily aggregates refreshed every STATS_REFRESH_INTERVAL_MS for the provinces that changed; refreshedAt and checkedAt say how fresh they are.',
        tags: ['statistics'],
        security: [{ apiKey: [] }],
        params: ProvinceParams,
        querystring: StatsQuery,
        response: {
          200: jsonResponse("the province's figures over the period", ProvinceStats),
          ...problemResponses(404),
        },
      },
    },
    async (request, reply) => {
      const now = clock();
      const { provinceCode } = request.params;
      if (!currentProvince(provinceCode)) {
        const successor = resolveProvince(provinceCode, '2008');
        const hint = successor
          ? `; ${provinceCode} is a former (2008) code, now part of province ${successor.code} (${successor.name})`
          : '';
        return sendProblem(
          reply,
          problem(
            'province_not_found',
            `${JSON.stringify(provinceCode)} is not a current province code; expected one of the 34 codes of 2025${hint}`,
          ),
        );
      }
      const key = request.apiKey;
      if (isProvinceBound(key) && !holds(key, provinceCode))
        return sendProblem(reply, problem('forbidden', notHeldDetail(key, provinceCode)));
      const period = resolvePeriod(request.query, now);
      if ('parameter' in period) return sendPeriodProblem(reply, period);
      const [stored] = await provincesStats(options.db, [provinceCode], period, now);
      return provinceBody(stored!, period, now);
    },
  );

  routes.get(
    '/stats',
    {
      schema: {
        summary: 'Every province’s service-quality figures over a period, and the national totals',
        description:
          'One row per current province (the same answer as its own stats route), and their sums; a province-bound key gets only its provinces’ rows, and their sums.',
        tags: ['statistics'],
        security: [{ apiKey: [] }],
        querystring: StatsQuery,
        response: {
          200: jsonResponse("every province's figures over the period, and the national totals", NationalStats),
        },
      },
    },
    async (request, reply) => {
      const now = clock();
      const period = resolvePeriod(request.query, now);
      if ('parameter' in period) return sendPeriodProblem(reply, period);
      // A province key's national answer is its provinces' rows, and their sums.
      const stored = await provincesStats(options.db, heldProvinces(request.apiKey), period, now);
      const refreshed = stored.map((province) => province.refreshedAt);
      const oldest = refreshed.some((time) => time === null)
        ? null
        : new Date(Math.min(...refreshed.map((time) => time!.getTime())));
      return {
        period: periodBody(period),
        refreshedAt: iso(oldest),
        national: nationalFigures(stored),
        provinces: stored.map((province) => provinceBody(province, period, now)),
      };
    },
  );
}

function sendPeriodProblem(
  reply: Parameters<typeof sendProblem>[0],
  wrong: { parameter: 'from' | 'to'; message: string },
) {
  const line = `querystring.${wrong.parameter}: ${wrong.message}`;
  return sendProblem(reply, problem('invalid_request', line, { errors: [line] }));
}
