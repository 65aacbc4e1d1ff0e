import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
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

// A national-rest connector whose system offers no summaries nor fetch by code (summaries: false): the reconcile
// reads the source window by window (readWindow) and compares each page with our rows, repairing from the pages.

let province: SyncedProvince;

beforeAll(async () => {
  province = await syncedProvince({}, async (db, url) => {
    await saveConnector(db, {
      id: 'sim-79-plain',
      sourceProvinceCode: '79',
      sourceCodeSet: '2025',
      kind: 'national-rest',
      config: {
        baseUrl: url,
        pageSize: 500,
        lookbackSeconds: 3,
        summaries: false,
        rateLimit: { requestsPerSecond: 200 },
      },
      pollIntervalMs: 300,
    });
    return 'sim-79-plain';
  });
}, 120_000);
afterAll(async () => {
  await province?.stop();
});

it('finds every kind of drift page by page and repairs from the pages read', async () => {
  const { expected, rewritten, deleted } = injectEveryKind(province.simulator, '79');
  const share = await shareByTruth(province);
  const result = await runFleet(reconcileArgs('sim-79-plain'), province.settings());
  expect(result.output).toMatch(/reconcile run 1 of connector sim-79-plain done/);
  expect(result.code).toBe(0);
  const run = await lastRun(province.env.db);
  expect(run).toMatchObject({ status: 'done', ...expected });
  // The dossiers compared and in sync: exactly what the truth said before the run.
  expect(await shareOfLastRun(province.env.db, 'sim-79-plain')).toEqual({ provinceCode: '79', ...share });
  const anomalies = await anomalyCodes(province.env.db, run.id);
  expect(anomalies.disappeared).toEqual([...deleted].sort());
  expect(anomalies.versionBackwards).toEqual([...rewritten].sort());
  const method = await province.env.db.selectFrom('reconcile_runs').select('method').executeTakeFirstOrThrow();
  expect(method.method).toBe('pages');
  expect(await compareWithTruth(province.env.db, province.simulator)).toMatchObject({
    missing: 0,
    different: rewritten.length,
    extra: deleted.length,
  });
});
