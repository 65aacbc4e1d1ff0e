import { cliActor } from '../../../workers/control-plane/audit.js';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DossierRecord } from '../../../connectors/sdk/dossier-record.js';
import type { DossierStatus } from '../../../connectors/sdk/dossier-status.js';
import { currentProvinces } from '../../../config/provinces.js';
import { horizonMarginMs } from '../../../db/queries/change-horizon.js';
import { recordPushes } from '../../../db/queries/connector-activity.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { insertDeadLetters } from '../../../db/queries/insert-dead-letters.js';
import { provinceStats } from '../../../db/queries/province-stats.js';
import { lockProvinceStats, refreshProvinceStats } from '../../../db/queries/refresh-province-stats.js';
import { upsertDossiers } from '../../../db/queries/upsert-dossiers.js';
import type { Database } from '../../../db/schema.js';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import type { Problem } from '../../../workers/http/problem.js';
import type { NationalStatsBody, ProvinceStatsBody } from '../../../workers/http/read/stats-routes.js';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import {
  deadlineStanding,
  finishTime,
  vietnamDate,
  waitingTime,
} from '../../../workers/read-model/deadline-standing.js';
import { lagBucketBounds } from '../../../workers/read-model/lag-histogram.js';
import { StatsRefresher } from '../../../workers/read-model/stats-refresher.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// The statistics of /v1/provinces/{code}/stats and /v1/stats, on generated data with known answers: dossiers finished
// at 23:59 and at 00:00 Vietnam time on their due day, waiting on the applicant (5, 6) in their history, a dossier of a
// former province stored under its successor. The API's figures must equal (a) the numbers worked out by hand below
// and (b) a computation straight from `dossiers` and `dossier_events`, written here apart from the refresh's SQL
// (other SQL, and the rules of deadline-standing.ts in TypeScript), before and after further updates.

let env: TestEnvironment;
let gateway: Fleet;
let key: string;
const logger = createLogger('silent');

const addDays = (day: string, days: number) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
/** An instant given as a Vietnam local time, ISO in UTC. */
const vn = (day: string, time: string) => new Date(`${day}T${time}:00+07:00`).toISOString();
const ago = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString();

const today = vietnamDate(new Date());
const yesterday = addDays(today, -1);
/** The first day of the period asked; the dossiers were received from then on. */
const d0 = addDays(today, -12);
/** The due day of most finished dossiers. */
const due = addDays(d0, 5);
const period = { from: d0, to: today };
/** How long after the source's updates Bắc Ninh's states are written, in seconds. */
const lags = [90_000, 30_000, 4000, 2000, 1000, 700, 500, 350, 299, 200, 130, 100, 70, 59, 45, 25, 15, 9, 7, 4, 3, 2];

/** One state of a dossier's history: what changes from the dossier's base record. */
type State = Partial<DossierRecord> & { status: DossierStatus; at: string };

/** Writes a dossier's history through the writer's own upsert, one state at a time, as a connector would. */
async function history(base: Partial<DossierRecord>, states: State[]): Promise<void> {
  let version = base.sourceVersion ?? 0;
  for (const { at, ...state } of states) {
    version += 1;
    await upsertDossiers(env.db, [
      dossierRecord({
        ...base,
        sourceStatus: String(state.status),
        ...state,
        sourceUpdatedAt: at,
        sourceVersion: version,
        observedAt: new Date().toISOString(),
      }),
    ]);
  }
}

const hanoi = (dossierCode: string, extra: Partial<DossierRecord> = {}): Partial<DossierRecord> => ({
  provinceCode: '01',
  sourceProvinceCode: '01',
  connectorId: 'hanoi',
  dossierCode,
  channel: 2,
  receivedAt: vn(d0, '09:00'),
  submittedAt: vn(d0, '08:00'),
  dueAt: vn(due, '00:00'),
  ...extra,
});
const finished = (at: string): Partial<DossierRecord> => ({ finishedAt: at });

async function seed(): Promise<void> {
  for (const [id, province, codeSet] of [
    ['hanoi', '01', '2025'],
    ['hcm', '79', '2025'],
    // A system not yet moved to the 2025 codes: former Bình Dương (74), now part of Hồ Chí Minh (79).
    ['binh-duong', '74', '2008'],
    ['bac-ninh', '24', '2025'],
  ] as const) {
    await saveConnector(env.db, {
      id,
      sourceProvinceCode: province,
      sourceCodeSet: codeSet,
      kind: 'national-rest',
      config: { baseUrl: 'http://127.0.0.1:1' },
      pollIntervalMs: 60_000,
    });
  }
  await env.db
    .updateTable('connectors')
    .set({ last_success_at: ago(120) })
    .where('id', '=', 'hanoi')
    .execute();
  await env.db
    .updateTable('connectors')
    .set({ last_success_at: ago(3600) })
    .where('id', '=', 'bac-ninh')
    .execute();
  await recordPushes(env.db, [{ connectorId: 'binh-duong', updates: 3, lastReceivedAt: ago(10) }]);

  // Hà Nội. Due day: `due` (its 00:00 in Vietnam).
  await history(hanoi('HN-EARLY'), [
    { status: 2, at: vn(d0, '09:00') },
    { status: 4, at: vn(d0, '10:00') },
    { status: 9, at: vn(addDays(due, -1), '23:59'), ...finished(vn(addDays(due, -1), '23:59')) },
  ]);
  await history(hanoi('HN-ONTIME-2359', { channel: 1 }), [
    { status: 2, at: vn(d0, '08:00') },
    { status: 9, at: vn(due, '23:59'), ...finished(vn(due, '23:59')) },
  ]);
  await history(hanoi('HN-LATE-0000', { channel: 3 }), [
    { status: 2, at: vn(d0, '09:00') },
    { status: 9, at: vn(addDays(due, 1), '00:00'), ...finished(vn(addDays(due, 1), '00:00')) },
  ]);
  // Waited 3 days for a supplement: late as it is, early once the waiting is taken out.
  await history(hanoi('HN-WAITED'), [
    { status: 2, at: vn(d0, '09:00') },
    { status: 5, at: vn(addDays(d0, 1), '10:00') },
    { status: 4, at: vn(addDays(d0, 4), '10:00') },
    { status: 9, at: vn(addDays(due, 2), '10:00'), ...finished(vn(addDays(due, 2), '10:00')) },
  ]);
  // Waited 25 h for fees, then returned without a finish time: late by its return, on time net of the waiting.
  await history(hanoi('HN-WAITED-RETURNED'), [
    { status: 2, at: vn(d0, '11:00') },
    { status: 4, at: vn(addDays(d0, 1), '11:00') },
    { status: 6, at: vn(due, '08:00') },
    { status: 10, at: vn(addDays(due, 1), '09:00'), returnedAt: vn(addDays(due, 1), '09:00') },
  ]);
  await history(hanoi('HN-NODUE', { dueAt: null }), [
    { status: 2, at: vn(d0, '09:00') },
    { status: 9, at: vn(due, '12:00'), ...finished(vn(due, '12:00')) },
  ]);
  // Received long before the period, finished (late) in it.
  await history(hanoi('HN-OLD', { receivedAt: vn(addDays(d0, -40), '09:00'), dueAt: vn(addDays(d0, -30), '00:00') }), [
    { status: 2, at: vn(addDays(d0, -40), '09:00') },
    { status: 9, at: vn(addDays(d0, 1), '10:00'), ...finished(vn(addDays(d0, 1), '10:00')) },
  ]);
  // In progress: due at 23:59 yesterday (overdue), due at 00:00 today (not yet), waiting since long past its due day.
  await history(hanoi('HN-OVERDUE', { dueAt: vn(yesterday, '23:59') }), [
    { status: 2, at: vn(d0, '09:00') },
    { status: 4, at: ago(5) },
  ]);
  await history(hanoi('HN-DUE-TODAY', { dueAt: vn(today, '00:00'), channel: null }), [{ status: 2, at: ago(40) }]);
  await history(hanoi('HN-WAITING-NOW', { dueAt: vn(addDays(d0, 1), '00:00') }), [
    { status: 2, at: vn(d0, '09:00') },
    { status: 5, at: vn(addDays(d0, 1), '09:00') },
  ]);
  await history(hanoi('HN-SUBMITTED', { receivedAt: null, dueAt: null }), [{ status: 1, at: vn(d0, '08:00') }]);
  await history(hanoi('HN-REFUSED', { channel: 1, dueAt: null, receivedAt: vn(d0, '12:00') }), [
    { status: 3, at: vn(d0, '12:00') },
  ]);
  // Received a minute before the period, and at its first instant.
  const farDue = vn(addDays(today, 30), '00:00');
  await history(hanoi('HN-RECEIVED-2359', { receivedAt: vn(addDays(d0, -1), '23:59'), dueAt: farDue }), [
    { status: 2, at: vn(addDays(d0, -1), '23:59') },
  ]);
  await history(hanoi('HN-RECEIVED-0000', { receivedAt: vn(d0, '00:00'), dueAt: farDue }), [
    { status: 2, at: vn(d0, '00:00') },
  ]);

  // Hồ Chí Minh, one dossier filed in former Bình Dương (74, code set 2008), stored under 79.
  await history(
    {
      ...hanoi('BD-0001'),
      provinceCode: '79',
      sourceProvinceCode: '74',
      sourceCodeSet: '2008',
      connectorId: 'binh-duong',
    },
    [
      { status: 2, at: vn(d0, '09:00') },
      { status: 9, at: vn(due, '00:00'), ...finished(vn(due, '00:00')) },
    ],
  );
  const hcm = (code: string, extra: Partial<DossierRecord> = {}) => ({
    ...hanoi(code),
    provinceCode: '79',
    sourceProvinceCode: '79',
    connectorId: 'hcm',
    ...extra,
  });
  await history(hcm('HCM-0001', { channel: 1 }), [
    { status: 2, at: vn(d0, '09:00') },
    { status: 9, at: vn(addDays(due, 1), '00:01'), ...finished(vn(addDays(due, 1), '00:01')) },
  ]);
  await history(hcm('HCM-0002', { dueAt: vn(d0, '00:00') }), [{ status: 4, at: vn(d0, '09:00') }]);

  // Bắc Ninh: in progress, no due date (never overdue), its states written from seconds to a day after the source's
  // updates, so its lag quantiles fall in different buckets.
  await history(
    { ...hanoi('BN-0001'), provinceCode: '24', sourceProvinceCode: '24', connectorId: 'bac-ninh', dueAt: null },
    lags.map((lag, index) => ({ status: index % 2 === 0 ? 2 : 4, at: ago(lag) })),
  );

  // A source whose clock put the finish before the supplement request: the last state of the history waits, and lasts
  // until the finish (26 h): late as it is, on time net of the waiting.
  await history({ ...hanoi('BN-SKEWED'), provinceCode: '24', sourceProvinceCode: '24', connectorId: 'bac-ninh' }, [
    { status: 2, at: vn(d0, '09:00') },
    { status: 5, at: vn(due, '10:00') },
    { status: 9, at: vn(due, '09:00'), ...finished(vn(addDays(due, 1), '12:00')) },
  ]);

  // States recorded on earlier days: the lag histograms have several days (recorded_at is the writer's now()).
  await sql`
    UPDATE dossier_events SET recorded_at = recorded_at - interval '3 days'
    WHERE province_code = '01' AND dossier_code = 'HN-EARLY'
  `.execute(env.db);

  const letter = (
    connectorId: string,
    provinceCode: string,
    reason: 'unknown_status' | 'bad_date' | 'missing_field',
    n: number,
  ) => ({
    connectorId,
    provinceCode,
    dossierCode: `${connectorId}-${n}`,
    reason,
    message: `${reason} ${n}`,
    rawPayload: { n },
    receivedAt: new Date().toISOString(),
  });
  await insertDeadLetters(env.db, [
    letter('hanoi', '01', 'unknown_status', 1),
    letter('hanoi', '01', 'unknown_status', 2),
    letter('hanoi', '01', 'bad_date', 3),
    letter('binh-duong', '79', 'missing_field', 4),
  ]);
}

const get = async (path: string) => {
  const response = await fetch(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: response.status, body: (await response.json()) as unknown };
};
const problemOf = (body: unknown) => body as Problem;
const statsOf = async (province: string) =>
  (await get(`/v1/provinces/${province}/stats?from=${period.from}&to=${period.to}`)).body as ProvinceStatsBody;

/** The figures a direct computation gives: SQL straight over dossiers and dossier_events, and deadline-standing.ts. */
async function direct(db: Kysely<Database>, provinceCode: string, now: Date) {
  const [bounds] = (
    await sql<{ start: Date; stop: Date; today_start: Date }>`
      SELECT (${period.from}::date::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') AS start,
        ((${period.to}::date + 1)::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') AS stop,
        (${vietnamDate(now)}::date::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') AS today_start
    `.execute(db)
  ).rows;
  const { start, stop, today_start: todayStart } = bounds!;

  // Waiting time by a correlated subquery (the next state: the least source update time among the states after it).
  const { rows: finishedRows } = await sql<{ standing: string; net_standing: string }>`
    WITH waits AS (
      SELECT e.dossier_code, sum(greatest(
        coalesce(
          (SELECT min(n.source_updated_at) FROM dossier_events n
            WHERE n.province_code = e.province_code AND n.dossier_code = e.dossier_code
              AND (n.source_updated_at, n.source_version, n.observed_at, n.content_hash)
                > (e.source_updated_at, e.source_version, e.observed_at, e.content_hash)),
          coalesce(d.finished_at, d.returned_at, d.source_updated_at)) - e.source_updated_at,
        interval '0')) AS waited
      FROM dossier_events e JOIN dossiers d USING (province_code, dossier_code)
      WHERE e.province_code = ${provinceCode} AND e.status IN (5, 6) AND d.status IN (9, 10)
      GROUP BY e.dossier_code
    ),
    finished AS (
      SELECT d.*, coalesce(w.waited, interval '0') AS waited,
        to_char(d.due_at AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD') AS due_day,
        to_char(coalesce(d.finished_at, d.returned_at) AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD') AS finish_day,
        to_char((coalesce(d.finished_at, d.returned_at) - coalesce(w.waited, interval '0')) AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD') AS net_finish_day
      FROM dossiers d LEFT JOIN waits w USING (dossier_code)
      WHERE d.province_code = ${provinceCode} AND d.status IN (9, 10)
        AND coalesce(d.finished_at, d.returned_at, d.source_updated_at) >= ${start}
        AND coalesce(d.finished_at, d.returned_at, d.source_updated_at) < ${stop}
    )
    SELECT
      CASE WHEN due_day IS NULL OR finish_day IS NULL THEN 'onTime' WHEN finish_day < due_day THEN 'early'
        WHEN finish_day = due_day THEN 'onTime' ELSE 'late' END AS standing,
      CASE WHEN due_day IS NULL OR net_finish_day IS NULL THEN 'onTime' WHEN net_finish_day < due_day THEN 'early'
        WHEN net_finish_day = due_day THEN 'onTime' ELSE 'late' END AS net_standing
    FROM finished
  `.execute(db);
  const tally = (key: 'standing' | 'net_standing') => {
    const counts = { early: 0, onTime: 0, late: 0 };
    for (const row of finishedRows) counts[row[key] as keyof typeof counts] += 1;
    const done = counts.early + counts.onTime + counts.late;
    return { ...counts, onTimeRate: done === 0 ? null : (counts.early + counts.onTime) / done };
  };

  const [received] = (
    await sql<{ total: number; in_person: number; online: number; post: number; unspecified: number }>`
      SELECT count(*)::int AS total, count(*) FILTER (WHERE channel = 1)::int AS in_person,
        count(*) FILTER (WHERE channel = 2)::int AS online, count(*) FILTER (WHERE channel = 3)::int AS post,
        count(*) FILTER (WHERE channel IS NULL OR channel NOT IN (1, 2, 3))::int AS unspecified
      FROM dossiers WHERE province_code = ${provinceCode} AND received_at >= ${start} AND received_at < ${stop}
    `.execute(db)
  ).rows;
  const [overdue] = (
    await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM dossiers
      WHERE province_code = ${provinceCode} AND status IN (2, 4, 5, 6) AND due_at < ${todayStart}
    `.execute(db)
  ).rows;
  const { rows: byStatus } = await sql<{ status: number; n: number }>`
    SELECT status, count(*)::int AS n FROM dossiers WHERE province_code = ${provinceCode} GROUP BY status
  `.execute(db);

  // Lag: the exact nearest-rank percentile, then the bucket it falls in.
  const { rows: lagRows } = await sql<{ connector_id: string; n: number; max: number; p50: number; p95: number }>`
    SELECT connector_id, count(*)::int AS n, max(lag) AS max,
      percentile_disc(0.5) WITHIN GROUP (ORDER BY lag) AS p50, percentile_disc(0.95) WITHIN GROUP (ORDER BY lag) AS p95
    FROM (
      SELECT connector_id, greatest(0, extract(epoch FROM recorded_at - source_updated_at)::float8) AS lag
      FROM dossier_events WHERE province_code = ${provinceCode} AND recorded_at >= ${start} AND recorded_at < ${stop}
    ) AS l
    GROUP BY connector_id ORDER BY connector_id
  `.execute(db);
  const bucketed = (value: number, max: number) => Math.min(lagBucketBounds.find((bound) => value < bound) ?? max, max);

  const { rows: deadLetters } = await sql<{ connector_id: string; reason: string; n: number }>`
    SELECT connector_id, reason, count(*)::int AS n FROM dead_letters
    WHERE created_at >= ${start} AND created_at < ${stop}
      AND connector_id IN (SELECT id FROM connectors WHERE (code_set = '2025' AND province_code = ${provinceCode})
        OR (code_set = '2008' AND ${provinceCode} = '79' AND province_code = '74'))
    GROUP BY connector_id, reason ORDER BY connector_id, reason
  `.execute(db);

  return {
    received: {
      total: received!.total,
      byChannel: {
        inPerson: received!.in_person,
        online: received!.online,
        post: received!.post,
        unspecified: received!.unspecified,
      },
    },
    finished: finishedRows.length,
    deadline: tally('standing'),
    deadlineNetOfApplicantWaiting: tally('net_standing'),
    overdueInProgress: overdue!.n,
    onlineShare: received!.total === 0 ? null : received!.online / received!.total,
    byStatus: Object.fromEntries(byStatus.map((row) => [row.status, row.n])),
    lag: Object.fromEntries(
      lagRows.map((row) => [
        row.connector_id,
        {
          writes: row.n,
          maxSeconds: row.max,
          p50Seconds: bucketed(row.p50, row.max),
          p95Seconds: bucketed(row.p95, row.max),
        },
      ]),
    ),
    deadLetters: deadLetters.map((row) => ({ connectorId: row.connector_id, reason: row.reason, count: row.n })),
  };
}

/** The same standings by deadline-standing.ts itself, over the rows and their histories. */
async function byTheRule(db: Kysely<Database>, provinceCode: string, now: Date) {
  const dossiers = await db.selectFrom('dossiers').selectAll().where('province_code', '=', provinceCode).execute();
  const events = await db
    .selectFrom('dossier_events')
    .selectAll()
    .where('province_code', '=', provinceCode)
    .orderBy('source_updated_at')
    .orderBy(sql`source_version::bigint`)
    .orderBy('observed_at')
    .orderBy('content_hash')
    .execute();
  const counts = { early: 0, on_time: 0, late: 0, netEarly: 0, netOnTime: 0, netLate: 0, overdue: 0 };
  for (const d of dossiers) {
    const inputs = {
      status: d.status as DossierStatus,
      dueAt: d.due_at,
      finishedAt: d.finished_at,
      returnedAt: d.returned_at,
    };
    const standing = deadlineStanding(inputs, now);
    if (standing === 'overdue_in_progress') counts.overdue += 1;
    if (!['early', 'on_time', 'late'].includes(standing)) continue;
    const finishDay = vietnamDate(finishTime(inputs) ?? d.source_updated_at);
    if (finishDay < period.from || finishDay > period.to) continue;
    counts[standing as 'early' | 'on_time' | 'late'] += 1;
    const history = events
      .filter((e) => e.dossier_code === d.dossier_code)
      .map((e) => ({ status: e.status as DossierStatus, sourceUpdatedAt: e.source_updated_at }));
    const net = deadlineStanding(inputs, now, waitingTime(history, finishTime(inputs) ?? d.source_updated_at));
    if (net === 'early') counts.netEarly += 1;
    if (net === 'on_time') counts.netOnTime += 1;
    if (net === 'late') counts.netLate += 1;
  }
  return counts;
}

/** Checks a province's API answer against the direct computation and the rule. */
async function expectEqualToDirect(provinceCode: string) {
  const now = new Date();
  const answer = await statsOf(provinceCode);
  const expected = await direct(env.db, provinceCode, now);
  expect(answer.received).toEqual(expected.received);
  expect(answer.finished).toBe(expected.finished);
  expect(answer.deadline).toEqual(expected.deadline);
  expect(answer.deadlineNetOfApplicantWaiting).toEqual(expected.deadlineNetOfApplicantWaiting);
  expect(answer.overdueInProgress).toBe(expected.overdueInProgress);
  expect(answer.onlineShare).toBe(expected.onlineShare);
  for (const { status, count } of answer.dossiers.byStatus as { status: number; count: number }[])
    expect(count, `status ${status}`).toBe(expected.byStatus[status] ?? 0);
  const lag = Object.fromEntries(
    answer.connectors
      .filter((connector) => connector.lag.writes > 0)
      .map((connector) => [
        connector.connectorId,
        {
          writes: connector.lag.writes,
          maxSeconds: connector.lag.maxSeconds,
          p50Seconds: connector.lag.p50Seconds,
          p95Seconds: connector.lag.p95Seconds,
        },
      ]),
  );
  expect(Object.keys(lag).sort()).toEqual(Object.keys(expected.lag).sort());
  for (const [id, figures] of Object.entries(expected.lag)) {
    expect(lag[id]!.writes, id).toBe(figures.writes);
    expect(lag[id]!.maxSeconds, id).toBeCloseTo(figures.maxSeconds, 3);
    expect(lag[id]!.p50Seconds, id).toBeCloseTo(figures.p50Seconds, 3);
    expect(lag[id]!.p95Seconds, id).toBeCloseTo(figures.p95Seconds, 3);
  }
  expect(
    answer.connectors.flatMap((connector) =>
      connector.deadLetters.byReason.map(({ reason, count }) => ({
        connectorId: connector.connectorId,
        reason,
        count,
      })),
    ),
  ).toEqual(expected.deadLetters);

  const rule = await byTheRule(env.db, provinceCode, now);
  expect(answer.deadline).toMatchObject({ early: rule.early, onTime: rule.on_time, late: rule.late });
  expect(answer.deadlineNetOfApplicantWaiting).toMatchObject({
    early: rule.netEarly,
    onTime: rule.netOnTime,
    late: rule.netLate,
  });
  expect(answer.overdueInProgress).toBe(rule.overdue);
  return answer;
}

const refresher = () => new StatsRefresher(env.db, logger);
const byOutcome = (results: { provinceCode: string; outcome: string }[]) =>
  Object.fromEntries(results.map(({ provinceCode, outcome }) => [provinceCode, outcome]));

beforeAll(async () => {
  env = await createTestEnvironment();
  gateway = await startFleet(env.config, ['gateway'], logger);
  ({ key } = await createApiKey(env.db, 'portal', 'portal:read', { actor: cliActor() }));
  await seed();
}, 120_000);
afterAll(async () => {
  await gateway?.stop();
  await env?.cleanup();
});

/** Waits until what was just written is before the change horizon (its margin), so a refresh counts it. */
const pastTheHorizon = () => new Promise((resolve) => setTimeout(resolve, horizonMarginMs + 200));

describe('province statistics', () => {
  it('are empty, with refreshedAt null, before the first refresh', async () => {
    const answer = await statsOf('01');
    expect(answer.refreshedAt).toBeNull();
    expect(answer.received.total).toBe(0);
    expect(answer.deadline.onTimeRate).toBeNull();
  });

  it('equal the hand-worked figures after a refresh, midnight in Vietnam included', async () => {
    await pastTheHorizon();
    const results = await refresher().refresh();
    expect(results).toHaveLength(34);
    expect(results.every((result) => result.outcome === 'refreshed')).toBe(true);

    const hn = await statsOf('01');
    expect(hn.period).toEqual({ from: d0, to: today, days: 13, timeZone: 'Asia/Ho_Chi_Minh' });
    expect(Date.parse(hn.refreshedAt!)).toBeGreaterThan(Date.now() - 60_000);
    // Received from d0 00:00 on (not HN-RECEIVED-2359, HN-OLD, HN-SUBMITTED).
    expect(hn.received).toEqual({ total: 11, byChannel: { inPerson: 2, online: 7, post: 1, unspecified: 1 } });
    expect(hn.finished).toBe(7);
    // Early: finished 23:59 the day before. On time: 23:59 on the due day, and no due date. Late: 00:00 the day after,
    // the waiting ones, the old one.
    expect(hn.deadline).toEqual({ early: 1, onTime: 2, late: 4, onTimeRate: 3 / 7 });
    // Net of waiting: HN-WAITED is early (3 days out), HN-WAITED-RETURNED on time (25 h out).
    expect(hn.deadlineNetOfApplicantWaiting).toEqual({ early: 2, onTime: 3, late: 2, onTimeRate: 5 / 7 });
    // Due 23:59 yesterday, and the one waiting since long past its due day; not the one due at 00:00 today.
    expect(hn.overdueInProgress).toBe(2);
    expect(hn.onlineShare).toBe(7 / 11);
    expect(hn.dossiers.total).toBe(14);
    expect(Object.fromEntries(hn.dossiers.byStatus.map((s) => [s.status, s.count]))).toEqual({
      1: 1,
      2: 3,
      3: 1,
      4: 1,
      5: 1,
      6: 0,
      7: 0,
      8: 0,
      9: 6,
      10: 1,
    });
    expect(hn.dossiers.byStatus[8]).toMatchObject({ status: 9, label: 'Đã xử lý xong' });
    expect(hn.deadLetters).toEqual({
      total: 3,
      byReason: [
        { reason: 'bad_date', count: 1 },
        { reason: 'unknown_status', count: 2 },
      ],
    });
    const hanoiSync = hn.connectors[0]!;
    expect(hn.connectors).toHaveLength(1);
    expect(hanoiSync).toMatchObject({ connectorId: 'hanoi', state: 'active', lastPushCommittedAt: null });
    expect(hanoiSync.secondsSinceLastSuccess).toBeGreaterThanOrEqual(120);
    expect(hanoiSync.secondsSinceLastSuccess).toBeLessThan(180);
    // Every state of the history written, including those recorded "3 days ago".
    const { rows: states } = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM dossier_events WHERE province_code = '01'`.execute(env.db);
    expect(hanoiSync.lag.writes).toBe(states[0]!.n);

    // Hồ Chí Minh: the former Bình Dương dossier and connector count here.
    const hcm = await statsOf('79');
    expect(hcm.received).toEqual({ total: 3, byChannel: { inPerson: 1, online: 2, post: 0, unspecified: 0 } });
    expect(hcm.deadline).toEqual({ early: 0, onTime: 1, late: 1, onTimeRate: 0.5 });
    expect(hcm.overdueInProgress).toBe(1);
    expect(hcm.connectors.map((c) => c.connectorId)).toEqual(['binh-duong', 'hcm']);
    const [binhDuong, hcmSync] = [hcm.connectors[0]!, hcm.connectors[1]!];
    expect(binhDuong.secondsSinceLastSuccess).toBeLessThan(60);
    expect(binhDuong.deadLetters).toEqual({ total: 1, byReason: [{ reason: 'missing_field', count: 1 }] });
    expect(hcmSync.secondsSinceLastSuccess).toBeNull();

    const bn = await statsOf('24');
    expect(bn.lag.writes).toBe(lags.length + 3);
    expect(bn.deadline).toEqual({ early: 0, onTime: 0, late: 1, onTimeRate: 0 });
    expect(bn.deadlineNetOfApplicantWaiting).toEqual({ early: 0, onTime: 1, late: 0, onTimeRate: 1 });
    expect(lagBucketBounds).toContain(bn.lag.p50Seconds);
    expect(bn.lag.p50Seconds).toBeLessThan(bn.lag.p95Seconds!);

    const empty = await statsOf('04');
    expect(empty).toMatchObject({ provinceCode: '04', provinceName: 'Cao Bằng', finished: 0, onlineShare: null });
    expect(empty.refreshedAt).not.toBeNull();
    expect(empty.deadline.onTimeRate).toBeNull();
    expect(empty.lag).toEqual({ writes: 0, p50Seconds: null, p95Seconds: null, maxSeconds: null, meanSeconds: null });
  });

  it('equal a direct computation over dossiers and dossier_events', async () => {
    for (const code of ['01', '79', '24', '04']) await expectEqualToDirect(code);
  });

  it('refresh only the provinces that changed, and pick the changes up', async () => {
    await pastTheHorizon();
    await refresher().refresh(); // the writes of the last second before the previous refresh
    const before = await env.db.selectFrom('stats_refresh').selectAll().orderBy('province_code').execute();
    expect(Object.values(byOutcome(await refresher().refresh())).every((outcome) => outcome === 'unchanged')).toBe(
      true,
    );

    // HN-LATE-0000's finish is corrected to 22:00 on its due day (late → on time); a new dossier is received;
    // HN-WAITING-NOW, waiting since 09:00 on its due day, is finished two days and an hour later: late, but on time
    // once its waiting is taken out (and no longer overdue).
    await history(hanoi('HN-WAITING-NOW', { dueAt: vn(addDays(d0, 1), '00:00'), sourceVersion: 2 }), [
      { status: 9, at: vn(addDays(d0, 3), '10:00'), ...finished(vn(addDays(d0, 3), '10:00')) },
    ]);
    await history(hanoi('HN-LATE-0000', { channel: 3, sourceVersion: 2 }), [
      { status: 9, at: vn(addDays(due, 1), '08:00'), ...finished(vn(due, '22:00')) },
    ]);
    await history(hanoi('HN-NEW', { receivedAt: ago(60), dueAt: vn(addDays(today, 10), '00:00') }), [
      { status: 2, at: ago(60) },
    ]);
    await pastTheHorizon();
    const outcomes = byOutcome(await refresher().refresh());
    expect(outcomes['01']).toBe('refreshed');
    expect(Object.entries(outcomes).filter(([, outcome]) => outcome === 'refreshed')).toHaveLength(1);
    const after = await env.db.selectFrom('stats_refresh').selectAll().orderBy('province_code').execute();
    for (const [index, row] of after.entries()) {
      if (row.province_code === '01') {
        expect(row.refreshed_at.getTime()).toBeGreaterThan(before[index]!.refreshed_at.getTime());
      } else {
        expect(row.refreshed_at).toEqual(before[index]!.refreshed_at);
        expect(row.checked_at.getTime()).toBeGreaterThan(before[index]!.checked_at.getTime());
      }
    }

    const hn = await expectEqualToDirect('01');
    expect(hn.received).toEqual({ total: 12, byChannel: { inPerson: 2, online: 8, post: 1, unspecified: 1 } });
    expect(hn.finished).toBe(8);
    expect(hn.deadline).toEqual({ early: 1, onTime: 3, late: 4, onTimeRate: 4 / 8 });
    expect(hn.deadlineNetOfApplicantWaiting).toEqual({ early: 2, onTime: 5, late: 1, onTimeRate: 7 / 8 });
    expect(hn.overdueInProgress).toBe(1);
    expect(hn.onlineShare).toBe(8 / 12);
    expect(hn.checkedAt).toBe(hn.refreshedAt);
    for (const code of ['79', '24']) await expectEqualToDirect(code);
  });

  it('count overdue in progress as of the day asked, at midnight in Vietnam', async () => {
    // HN-OVERDUE is due at 23:59 yesterday: not overdue until today begins.
    const at = (time: string, day: string) => new Date(vn(day, time));
    const lastMinuteOfYesterday = await provinceStats(env.db, '01', period, at('23:59', yesterday));
    const firstMinuteOfToday = await provinceStats(env.db, '01', period, at('00:00', today));
    expect(firstMinuteOfToday.overdueInProgress - lastMinuteOfYesterday.overdueInProgress).toBe(1);
    // HN-DUE-TODAY (due 00:00 today) becomes overdue tomorrow.
    const tomorrow = await provinceStats(env.db, '01', period, at('00:00', addDays(today, 1)));
    expect(tomorrow.overdueInProgress).toBe(firstMinuteOfToday.overdueInProgress + 1);
    for (const now of [at('23:59', yesterday), at('00:00', today), at('00:00', addDays(today, 1))]) {
      expect((await provinceStats(env.db, '01', period, now)).overdueInProgress).toBe(
        (await direct(env.db, '01', now)).overdueInProgress,
      );
    }
  });

  it('are refreshed by one process at a time: a province locked by another is skipped as busy', async () => {
    await history(hanoi('HN-LOCKED', { dueAt: null }), [{ status: 2, at: ago(1) }]);
    await pastTheHorizon();
    await env.db.transaction().execute(async (trx) => {
      expect(await lockProvinceStats(trx, '01')).toBe(true);
      const result = await refreshProvinceStats(env.db, '01', { connectorIds: ['hanoi'] });
      expect(result.outcome).toBe('busy');
    });
    // The lock went with the transaction: the change is picked up now.
    expect((await refreshProvinceStats(env.db, '01', { connectorIds: ['hanoi'] })).outcome).toBe('refreshed');
    expect((await statsOf('01')).dossiers.total).toBe(16);
  });

  it('answer /v1/stats with each province as its own route answers, and their sums', async () => {
    const answer = await get(`/v1/stats?from=${period.from}&to=${period.to}`);
    expect(answer.status).toBe(200);
    const body = answer.body as NationalStatsBody;
    expect(body.provinces.map((p) => p.provinceCode)).toEqual(currentProvinces.map(({ code }) => code));
    const withoutClock = (answer: ProvinceStatsBody) => ({
      ...answer,
      connectors: answer.connectors.map((c) => ({
        ...c,
        secondsSinceLastSuccess: c.secondsSinceLastSuccess === null,
      })),
    });
    for (const row of body.provinces) expect(withoutClock(row)).toEqual(withoutClock(await statsOf(row.provinceCode)));

    const sum = (pick: (row: ProvinceStatsBody) => number) =>
      body.provinces.reduce((total, row) => total + pick(row), 0);
    expect(body.national.received.total).toBe(sum((row) => row.received.total));
    expect(body.national.finished).toBe(sum((row) => row.finished));
    expect(body.national.overdueInProgress).toBe(sum((row) => row.overdueInProgress));
    expect(body.national.dossiers.total).toBe(sum((row) => row.dossiers.total));
    const early = sum((row) => row.deadline.early);
    const onTime = sum((row) => row.deadline.onTime);
    expect(body.national.deadline).toEqual({
      early,
      onTime,
      late: sum((row) => row.deadline.late),
      onTimeRate: (early + onTime) / body.national.finished,
    });
    expect(body.national.lag.writes).toBe(sum((row) => row.lag.writes));
    expect(body.national.deadLetters.total).toBe(4);
    expect(body.refreshedAt).toBe(
      new Date(Math.min(...body.provinces.map((row) => Date.parse(row.refreshedAt!)))).toISOString(),
    );
  });

  it('refuse an unknown province (404) and a bad period (400 naming the parameter)', async () => {
    const unknown = await get('/v1/provinces/99/stats');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: 'province_not_found', status: 404, title: 'Not Found' });
    const former = await get('/v1/provinces/74/stats');
    expect(former.status).toBe(404);
    expect(problemOf(former.body).detail).toMatch(/former \(2008\) code, now part of province 79/);

    const cases: [string, RegExp][] = [
      [`from=${today}&to=${yesterday}`, /^querystring\.to: .* is before from/],
      [`from=${addDays(today, 1)}`, /^querystring\.from: /],
      [`from=${addDays(today, -366)}&to=${today}`, /^querystring\.to: .* 367 days; expected at most 366/],
      ['from=2026-13-01', /^querystring\.from: expected a calendar day as yyyy-MM-dd/],
      ['from=01/12/2026', /querystring\.from/],
      ['form=2026-12-01', /querystring/],
    ];
    for (const [query, detail] of cases) {
      const answer = await get(`/v1/provinces/01/stats?${query}`);
      expect(answer.status, query).toBe(400);
      expect(problemOf(answer.body).code, query).toBe('invalid_request');
      expect(problemOf(answer.body).detail, query).toMatch(detail);
      expect((await get(`/v1/stats?${query}`)).status, query).toBe(400);
    }
    // The default period: 30 days up to today.
    const defaults = await get('/v1/provinces/01/stats');
    expect((defaults.body as ProvinceStatsBody).period).toEqual({
      from: addDays(today, -29),
      to: today,
      days: 30,
      timeZone: 'Asia/Ho_Chi_Minh',
    });
  });

  it('are described in the OpenAPI document under components', async () => {
    const response = await fetch(`${gateway.url}/v1/openapi.json`);
    const document = (await response.json()) as {
      components: { schemas: Record<string, unknown> };
      paths: Record<string, unknown>;
    };
    for (const name of ['ProvinceStats', 'NationalStats', 'DeadlineFigures', 'LagFigures', 'ConnectorSync'])
      expect(document.components.schemas, name).toHaveProperty(name);
    expect(document.paths).toHaveProperty(['/v1/provinces/{provinceCode}/stats']);
    expect(document.paths).toHaveProperty(['/v1/stats']);
  });
});

describe('the scheduler role', () => {
  it('refreshes the statistics every STATS_REFRESH_INTERVAL_MS', async () => {
    const scheduler = await startFleet({ ...env.config, STATS_REFRESH_INTERVAL_MS: 1000 }, ['scheduler'], logger);
    try {
      const checkedAt = async () =>
        (
          await env.db
            .selectFrom('stats_refresh')
            .select('checked_at')
            .where('province_code', '=', '24')
            .executeTakeFirstOrThrow()
        ).checked_at;
      const first = await checkedAt();
      await waitFor(async () => (await checkedAt()).getTime() > first.getTime(), 'a pass of the stats refresher');
      await history({ ...hanoi('BN-0002'), provinceCode: '24', sourceProvinceCode: '24', connectorId: 'bac-ninh' }, [
        { status: 2, at: ago(1) },
      ]);
      await waitFor(async () => (await statsOf('24')).dossiers.total === 3, 'the new dossier counted');
    } finally {
      await scheduler.stop();
    }
  });
});
