import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { reconcileFigures } from '../../../db/queries/reconcile-runs.js';
import { FleetMetrics } from '../../../workers/metrics.js';
import { registerSimulatorConnector } from '../../support/connectors.js';
import { runFleet } from '../../support/fleet-process.js';
import {
  lastRun,
  reconcileArgs,
  shareByTruth,
  shareOfLastRun,
  syncedProvince,
  type SyncedProvince,
} from '../../support/reconcile.js';
import { compareWithTruth } from '../../support/simulator-truth.js';
import { injectEveryKind } from './drift-kinds-sum.js';

// A national-rest connector whose source answers digests and fetches by code: each kind of drift injected into the
// simulator (and each kind of loss of our own copy) is found, named and repaired, one run each, the run's counts
// exactly what was injected.

let province: SyncedProvince;
const connector = 'sim-79';
// Every run also counts the dossiers it compared and those in sync exactly as the truth says (the share SLO).
const reconcile = async () => {
  const share = await shareByTruth(province);
  const result = await runFleet(reconcileArgs(connector), province.settings());
  expect(result.output).toMatch(/reconcile run \d+ of connector sim-79 done/);
  expect(result.code).toBe(0);
  expect(await shareOfLastRun(province.env.db, connector)).toEqual({ provinceCode: '79', ...share });
  return lastRun(province.env.db);
};

beforeAll(async () => {
  province = await syncedProvince({}, (db, url) => registerSimulatorConnector(db, url, '79', { pageSize: 500 }));
}, 120_000);
afterAll(async () => {
  await province?.stop();
});

it('finds nothing when the copy equals the source, in one request for every day', async () => {
  const run = await reconcile();
  expect(run).toMatchObject({ status: 'done', missingHere: 0, extraHere: 0, differentVersion: 0, repaired: 0 });
  // The digests of all the buckets in one multi-scope request, and nothing else.
  expect(run.requests).toBe(1);
  expect(run.scopes).toBe(run.bucketsTotal);
});

it('silent-change: each changed dossier is a different version, re-fetched and repaired', async () => {
  const report = province.simulator.injectDrift('79', 'silent-change', { count: 25 });
  expect(report.dossierCodes).toHaveLength(25);
  expect(await reconcile()).toMatchObject({ differentVersion: 25, missingHere: 0, extraHere: 0, repaired: 25 });
  expect(await compareWithTruth(province.env.db, province.simulator)).toMatchObject({ missing: 0, different: 0 });
});

it('lost-push: an acknowledged push that never reached us is repaired by the sweep', async () => {
  const report = province.simulator.injectDrift('79', 'lost-push', { count: 20, lookbackSeconds: 3 });
  expect(report.dossierCodes).toHaveLength(20);
  expect(await reconcile()).toMatchObject({ differentVersion: 20, missingHere: 0, extraHere: 0, repaired: 20 });
  expect(await compareWithTruth(province.env.db, province.simulator)).toMatchObject({ missing: 0, different: 0 });
});

it('delete: a dossier the source no longer has is extra here, kept, and recorded as disappeared', async () => {
  const report = province.simulator.injectDrift('79', 'delete', { count: 15 });
  const run = await reconcile();
  expect(run).toMatchObject({ extraHere: 15, missingHere: 0, differentVersion: 0, repaired: 0 });
  const anomalies = await province.env.db
    .selectFrom('dossier_anomalies')
    .select(['dossier_code', 'kind', 'reconcile_run_id'])
    .where('kind', '=', 'disappeared')
    .execute();
  expect(anomalies.map((row) => row.dossier_code).sort()).toEqual([...report.dossierCodes].sort());
  expect(anomalies.every((row) => String(row.reconcile_run_id) === String(run.id))).toBe(true);
  // The province is the record, but our copy keeps what it had.
  expect(await compareWithTruth(province.env.db, province.simulator)).toMatchObject({ extra: 15, missing: 0 });
});

it('rewrite-history: a version that went backwards is not applied, and is recorded', async () => {
  const report = province.simulator.injectDrift('79', 'rewrite-history', { count: 12 });
  const run = await reconcile();
  // The deleted dossiers of the previous drift are found again (this run's own count), then the rewritten ones.
  expect(run).toMatchObject({ differentVersion: 12, missingHere: 0, extraHere: 15, repaired: 0 });
  const backwards = await province.env.db
    .selectFrom('dossier_anomalies')
    .select(['dossier_code', 'stored_version', 'source_version'])
    .where('kind', '=', 'version_backwards')
    .execute();
  expect(backwards.map((row) => row.dossier_code).sort()).toEqual([...report.dossierCodes].sort());
  for (const dossier of report.dossiers) {
    const row = backwards.find((anomaly) => anomaly.dossier_code === dossier.dossierCode)!;
    expect(Number(row.stored_version)).toBe(dossier.before.version);
    expect(Number(row.source_version)).toBe(dossier.after!.version);
  }
});

it('a batch lost here (rows gone from our copy) is missing here, and a state changed here is a different state', async () => {
  const gone = await sql<{ dossier_code: string }>`
    DELETE FROM dossiers WHERE province_code = '79' AND dossier_code IN (
      SELECT dossier_code FROM dossiers WHERE province_code = '79' ORDER BY md5(dossier_code) LIMIT 10)
    RETURNING dossier_code`.execute(province.env.db);
  expect(gone.rows).toHaveLength(10);
  const changed = await sql<{ dossier_code: string }>`
    UPDATE dossiers SET status = CASE WHEN status = 9 THEN 10 ELSE 9 END, content_hash = 'changed here'
    WHERE province_code = '79' AND dossier_code IN (
      SELECT dossier_code FROM dossiers WHERE province_code = '79' ORDER BY md5(dossier_code || 'x') LIMIT 7)
    RETURNING dossier_code`.execute(province.env.db);
  expect(changed.rows).toHaveLength(7);
  const run = await reconcile();
  expect(run).toMatchObject({ missingHere: 10, differentState: 7, repaired: 17 });
});

it('the metrics say what the runs found, repaired and when the copy last matched, by connector', async () => {
  const metrics = new FleetMetrics();
  metrics.watchReconcileRuns(() => reconcileFigures(province.env.db));
  const text = await metrics.registry.metrics();
  expect(text).toContain('dossier_sync_reconcile_runs{connector="sim-79",outcome="done"} 6');
  // 25 + 20 + 12 + 12 different versions (the rewritten ones found again by the last run);
  // 15 deleted, found by each of the last three.
  expect(text).toContain('dossier_sync_reconcile_mismatches{connector="sim-79",kind="different_version"} 69');
  expect(text).toContain('dossier_sync_reconcile_mismatches{connector="sim-79",kind="extra_here"} 45');
  expect(text).toContain('dossier_sync_reconcile_mismatches{connector="sim-79",kind="missing_here"} 10');
  expect(text).toContain('dossier_sync_reconcile_repaired{connector="sim-79"} 62');
  // The last run (10 rows deleted here, 7 states changed here; 12 rewritten and 15 deleted there, found again) of
  // the 8,000 dossiers: 8,000 compared (7,985 the source holds, 15 only we hold), 7,985 - 10 - 7 - 12 in sync.
  expect(text).toContain('dossier_sync_reconcile_last_run_dossiers_compared{province="79",connector="sim-79"} 8000');
  expect(text).toContain('dossier_sync_reconcile_last_run_dossiers_in_sync{province="79",connector="sim-79"} 7956');
  // Every run repaired all it could: the copy matched as of the last one's start.
  const lastMatch = /dossier_sync_reconcile_last_match_timestamp_seconds\{connector="sim-79"\} (\S+)/.exec(text);
  const latest = await province.env.db
    .selectFrom('reconcile_runs')
    .select('started_at')
    .orderBy('id', 'desc')
    .executeTakeFirstOrThrow();
  expect(Number(lastMatch?.[1])).toBeCloseTo(latest.started_at.getTime() / 1000, 0);
});

it('every kind at once is found level by level in a handful of multi-scope requests', async () => {
  const { expected } = injectEveryKind(province.simulator, '79');
  // The dossiers deleted and rewritten by the earlier drifts are found again, beside the new ones.
  const run = await reconcile();
  expect(run).toMatchObject({
    status: 'done',
    ...expected,
    differentVersion: expected.differentVersion + 12,
    extraHere: expected.extraHere + 15,
  });
  // A request per level of the drill-down (each level's scopes in one), one for the listings, a few by code.
  expect(run.requests).toBeLessThanOrEqual(12);
  expect(await compareWithTruth(province.env.db, province.simulator)).toMatchObject({ missing: 0 });
});

it('a rewritten history stays different on every run: never applied, flagged again, our copy unchanged', async () => {
  const before = await province.env.db
    .selectFrom('dossier_anomalies')
    .select('dossier_code')
    .where('kind', '=', 'version_backwards')
    .execute();
  const rewritten = [...new Set(before.map((row) => row.dossier_code))].sort();
  // 12 rewritten by the rewrite-history drift, 9 by the drift of every kind at once.
  expect(rewritten).toHaveLength(21);
  const stored = () =>
    province.env.db
      .selectFrom('dossiers')
      .select(['dossier_code', 'source_version', 'status'])
      .where('dossier_code', 'in', rewritten)
      .orderBy('dossier_code')
      .execute();
  const copy = await stored();
  const run = await reconcile();
  // Nothing new drifted: what is found is exactly the rewritten dossiers and the deleted ones, again.
  expect(run).toMatchObject({ differentVersion: 21, extraHere: 22, missingHere: 0, differentState: 0, repaired: 0 });
  const flagged = await province.env.db
    .selectFrom('dossier_anomalies')
    .select('dossier_code')
    .where('kind', '=', 'version_backwards')
    .where(sql<string>`reconcile_run_id::text`, '=', run.id)
    .execute();
  expect(flagged.map((row) => row.dossier_code).sort()).toEqual(rewritten);
  expect(await stored()).toEqual(copy);
});
