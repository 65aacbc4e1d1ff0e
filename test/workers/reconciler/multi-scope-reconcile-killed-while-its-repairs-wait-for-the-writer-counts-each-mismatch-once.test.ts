import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { registerSimulatorConnector } from '../../support/connectors.js';
import { runFleet, spawnFleet, type FleetProcess } from '../../support/fleet-process.js';
import { lastRun, reconcileArgs, syncedProvince, type SyncedProvince } from '../../support/reconcile.js';
import { compareWithTruth } from '../../support/simulator-truth.js';
import { waitFor } from '../../support/test-environment.js';

// The multi-scope path's window for a kill: a pass compares all its buckets in a few requests, records every
// group's mismatches and queues every group's repairs, then waits for the writer to commit them group by group.
// With the writer frozen (SIGSTOP) the run is held in that wait; it is SIGKILLed there, and so is the writer, with
// the repairs still queued and none committed. A new writer and the same command again: the run resumes at its
// first unfinished group, settles the repairs the dead process queued, and ends with each mismatch counted once.

let province: SyncedProvince;
let secondWriter: FleetProcess | undefined;

beforeAll(async () => {
  province = await syncedProvince({}, (db, url) => registerSimulatorConnector(db, url, '79', { pageSize: 500 }));
}, 120_000);
afterAll(async () => {
  secondWriter?.child.kill('SIGKILL');
  await secondWriter?.exited;
  await province?.stop();
});

it('resumes after a kill while its repairs wait for the writer and counts each mismatch once', async () => {
  const changed = province.simulator.injectDrift('79', 'silent-change', { count: 40 });
  const deleted = province.simulator.injectDrift('79', 'delete', { count: 10 });
  expect(new Set([...changed.dossierCodes, ...deleted.dossierCodes]).size).toBe(50);
  const db = province.env.db;
  province.writer.killGroup('SIGSTOP');

  const first = spawnFleet(reconcileArgs('sim-79'), province.settings());
  const recorded = async () =>
    Number((await sql<{ n: string }>`SELECT count(*) AS n FROM reconcile_mismatches`.execute(db)).rows[0]?.n ?? 0);
  await waitFor(async () => (await recorded()) === 50, 'every mismatch recorded before the kill', 120_000, 50);
  // Recorded, queued, and waiting: the writer cannot commit, so no group can finish.
  const queued = await lastRun(db);
  expect(queued).toMatchObject({ status: 'running', bucketsDone: 0, repaired: 0 });
  first.child.kill('SIGKILL');
  expect(await first.exited).toBe('SIGKILL');
  province.writer.killGroup('SIGKILL');
  await province.writer.exited;
  expect(await compareWithTruth(db, province.simulator)).toMatchObject({ different: 40 });

  secondWriter = spawnFleet(['start', '--role', 'writer'], province.settings());
  const second = await runFleet(reconcileArgs('sim-79'), province.settings());
  expect(second.output).toMatch(/reconcile run 1 of connector sim-79 done/);
  expect(second.code).toBe(0);
  const run = await lastRun(db);
  expect(run).toMatchObject({
    status: 'done',
    differentVersion: 40,
    extraHere: 10,
    missingHere: 0,
    differentState: 0,
    repaired: 40,
    bucketsDone: run.bucketsTotal,
  });
  expect(await db.selectFrom('reconcile_runs').select('id').execute()).toHaveLength(1);
  const mismatches = await db.selectFrom('reconcile_mismatches').select(['dossier_code', 'kind']).execute();
  expect(mismatches).toHaveLength(50);
  expect(new Set(mismatches.map((row) => row.dossier_code)).size).toBe(50);
  const disappeared = await db
    .selectFrom('dossier_anomalies')
    .select('dossier_code')
    .where('kind', '=', 'disappeared')
    .execute();
  expect(disappeared.map((row) => row.dossier_code).sort()).toEqual([...deleted.dossierCodes].sort());
  expect(await compareWithTruth(db, province.simulator)).toMatchObject({ missing: 0, different: 0, extra: 10 });
});
