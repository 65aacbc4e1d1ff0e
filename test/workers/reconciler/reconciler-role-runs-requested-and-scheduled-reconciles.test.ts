import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { insertReconcileRun } from '../../../db/queries/reconcile-runs.js';
import { registerSimulatorConnector } from '../../support/connectors.js';
import { parseMetrics, startFleetServing } from '../../support/fleet-metrics.js';
import type { FleetProcess } from '../../support/fleet-process.js';
import { lastRun, rangeFrom, rangeTo, syncedProvince, type SyncedProvince } from '../../support/reconcile.js';
import { waitFor } from '../../support/test-environment.js';

// The reconciler role takes a run asked for (as POST /v1/admin/connectors/{id}/reconcile records it: status
// requested) and runs it; a connector whose definition says schedule.reconcileEveryHours is reconciled when due.
// Each run is one observation of the reconcile stage on the process's /metrics (its rate, errors and duration).

let province: SyncedProvince;
let reconciler: FleetProcess | null = null;
let reconcilerUrl: string;

/** The process's observations of the reconcile stage, by outcome. */
const reconcileObservations = async () => {
  const families = parseMetrics(await (await fetch(`${reconcilerUrl}/metrics`)).text());
  const counts: Record<string, number> = {};
  for (const sample of families.get('dossier_sync_operation_duration_seconds')?.samples ?? [])
    if (sample.name.endsWith('_count') && sample.labels.stage === 'reconcile')
      counts[sample.labels.outcome!] = sample.value;
  return counts;
};

beforeAll(async () => {
  province = await syncedProvince({ dossiersPerProvince: 4000 }, (db, url) =>
    registerSimulatorConnector(db, url, '79', { pageSize: 500 }),
  );
  const serving = await startFleetServing('reconciler', province.settings());
  reconciler = serving.process;
  reconcilerUrl = serving.url;
}, 120_000);
afterAll(async () => {
  reconciler?.child.kill('SIGKILL');
  await province?.stop();
});

it('runs a requested reconcile, then a scheduled one once the definition asks for it', async () => {
  const drift = province.simulator.injectDrift('79', 'silent-change', { count: 10 });
  await insertReconcileRun(province.env.db, {
    connectorId: 'sim-79',
    provinceCode: '79',
    from: rangeFrom,
    to: rangeTo,
    method: 'digest',
    bucketsTotal: 33,
    startedBy: 'key 1 (operators)',
    status: 'requested',
  });
  await waitFor(async () => (await lastRun(province.env.db)).status === 'done', 'the requested run done', 120_000);
  expect(await lastRun(province.env.db)).toMatchObject({ differentVersion: drift.dossierCodes.length, repaired: 10 });
  // Observed once its status is recorded: a moment after the run reads done.
  await waitFor(async () => (await reconcileObservations()).ok === 1, 'the run observed');
  expect(await reconcileObservations()).toEqual({ ok: 1 });

  await sql`DELETE FROM reconcile_runs`.execute(province.env.db);
  await sql`UPDATE connectors SET definition = ${JSON.stringify({ schedule: { reconcileEveryHours: 6 } })}::jsonb
    WHERE id = 'sim-79'`.execute(province.env.db);
  await waitFor(
    async () => {
      const run = await province.env.db.selectFrom('reconcile_runs').selectAll().executeTakeFirst();
      return run?.status === 'done' && run.started_by === 'schedule';
    },
    'a scheduled run done',
    120_000,
  );
  // Not due again for 6 hours: one run only.
  await new Promise((resolve) => setTimeout(resolve, 6000));
  expect(await province.env.db.selectFrom('reconcile_runs').select('id').execute()).toHaveLength(1);
  expect(await reconcileObservations()).toEqual({ ok: 2 });
});
