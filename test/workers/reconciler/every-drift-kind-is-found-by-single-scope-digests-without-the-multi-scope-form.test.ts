import { afterAll, beforeAll, expect, it } from 'vitest';
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
import { anomalyCodes, injectEveryKind } from './drift-kinds-sum.js';

// A system that offers the single-scope summary only (national-rest with summaryScopesPerRequest: 0, no
// summariseMany): the reconcile drills scope by scope, one request each, and finds and repairs the same.

let province: SyncedProvince;

beforeAll(async () => {
  province = await syncedProvince({ dossiersPerProvince: 4000 }, (db, url) =>
    registerSimulatorConnector(db, url, '79', { pageSize: 500, config: { summaryScopesPerRequest: 0 } }),
  );
}, 120_000);
afterAll(async () => {
  await province?.stop();
});

it('finds every kind of drift by single-scope digests, one request a scope', async () => {
  const { expected, rewritten, deleted } = injectEveryKind(province.simulator, '79');
  const share = await shareByTruth(province);
  const result = await runFleet(reconcileArgs('sim-79'), province.settings());
  expect(result.code, result.output).toBe(0);
  const run = await lastRun(province.env.db);
  expect(run).toMatchObject({ status: 'done', ...expected });
  // The dossiers compared and in sync: exactly what the truth said before the run.
  expect(await shareOfLastRun(province.env.db, 'sim-79')).toEqual({ provinceCode: '79', ...share });
  // At least a digest request per bucket: no request carried more than one scope.
  expect(run.requests).toBeGreaterThanOrEqual(run.bucketsTotal);
  const anomalies = await anomalyCodes(province.env.db, run.id);
  expect(anomalies.disappeared).toEqual([...deleted].sort());
  expect(anomalies.versionBackwards).toEqual([...rewritten].sort());
  expect(await compareWithTruth(province.env.db, province.simulator)).toMatchObject({
    missing: 0,
    different: rewritten.length,
    extra: deleted.length,
  });
});
