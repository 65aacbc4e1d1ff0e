import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { registerSimulatorConnector } from '../../support/connectors.js';
import { runFleet, spawnFleet } from '../../support/fleet-process.js';
import {
  lastRun,
  reconcileArgs,
  shareByTruth,
  shareOfLastRun,
  syncedProvince,
  type SyncedProvince,
} from '../../support/reconcile.js';
import { compareWithTruth } from '../../support/simulator-truth.js';
import { waitFor } from '../../support/test-environment.js';

// `fleet reconcile` in its own process, SIGKILLed half-way (the source slowed so that it is mid-run), then the same
// command again: the run resumes from its stored position and ends with each mismatch counted once, every
// repairable one repaired, and each disappeared dossier recorded once. The source answers one scope a request
// (`summaryScopesPerRequest: 0`): by multi-scope summaries the whole run is a handful of requests and its buckets
// finish in one burst at the end, too fast to be killed between them reliably.

let province: SyncedProvince;

beforeAll(async () => {
  province = await syncedProvince({}, (db, url) =>
    registerSimulatorConnector(db, url, '79', { pageSize: 500, config: { summaryScopesPerRequest: 0 } }),
  );
}, 120_000);
afterAll(async () => {
  await province?.stop();
});

it('resumes after a kill and finishes with the counts of what was injected', async () => {
  const changed = province.simulator.injectDrift('79', 'silent-change', { count: 40 });
  const deleted = province.simulator.injectDrift('79', 'delete', { count: 10 });
  expect(new Set([...changed.dossierCodes, ...deleted.dossierCodes]).size).toBe(50);
  const share = await shareByTruth(province);
  province.simulator.setFault('79', { delayMs: 60 });
  const first = spawnFleet(reconcileArgs('sim-79'), province.settings());
  const bucketsDone = async () =>
    Number(
      (await sql<{ n: number | null }>`SELECT max(buckets_done) AS n FROM reconcile_runs`.execute(province.env.db))
        .rows[0]?.n ?? 0,
    );
  await waitFor(async () => (await bucketsDone()) >= 10, '10 buckets reconciled before the kill', 120_000, 50);
  first.child.kill('SIGKILL');
  expect(await first.exited).toBe('SIGKILL');
  const killedAt = await lastRun(province.env.db);
  expect(killedAt.status).toBe('running');
  expect(killedAt.bucketsDone).toBeLessThan(killedAt.bucketsTotal);

  province.simulator.setFault('79', null);
  const second = await runFleet(reconcileArgs('sim-79'), province.settings());
  expect(second.output).toMatch(/reconcile run 1 of connector sim-79 done/);
  expect(second.code).toBe(0);
  const run = await lastRun(province.env.db);
  expect(run).toMatchObject({
    status: 'done',
    differentVersion: 40,
    extraHere: 10,
    missingHere: 0,
    differentState: 0,
    repaired: 40,
    bucketsDone: run.bucketsTotal,
  });
  expect(await province.env.db.selectFrom('reconcile_runs').select('id').execute()).toHaveLength(1);
  // Each bucket's dossiers counted once, by whichever process finished it: the share the truth said before the run.
  expect(await shareOfLastRun(province.env.db, 'sim-79')).toEqual({ provinceCode: '79', ...share });
  const disappeared = await province.env.db
    .selectFrom('dossier_anomalies')
    .select('dossier_code')
    .where('kind', '=', 'disappeared')
    .execute();
  expect(disappeared.map((row) => row.dossier_code).sort()).toEqual([...deleted.dossierCodes].sort());
  expect(await compareWithTruth(province.env.db, province.simulator)).toMatchObject({
    missing: 0,
    different: 0,
    extra: 10,
  });
  const audit = await province.env.db
    .selectFrom('audit_events')
    .select(['action', 'connector_id', 'province_code'])
    .where('action', 'like', 'reconcile.%')
    .orderBy('id')
    .execute();
  expect(audit).toEqual([
    { action: 'reconcile.start', connector_id: 'sim-79', province_code: '79' },
    { action: 'reconcile.resume', connector_id: 'sim-79', province_code: '79' },
  ]);

  const report = await runFleet(['reconcile', '--report', '-o', 'json'], province.settings());
  expect(report.code).toBe(0);
  const view = JSON.parse(report.output) as {
    runs: { id: string; mismatches: Record<string, number>; repaired: number }[];
    anomalies: { connectorId: string; kind: string; count: number }[];
  };
  expect(view.runs[0]).toMatchObject({
    id: '1',
    mismatches: { missingHere: 0, extraHere: 10, differentVersion: 40, differentState: 0 },
    repaired: 40,
  });
  expect(view.anomalies).toEqual([{ connectorId: 'sim-79', kind: 'disappeared', count: 10 }]);
});
