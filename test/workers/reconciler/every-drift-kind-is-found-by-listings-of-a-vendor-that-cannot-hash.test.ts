import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { parseDefinitionText } from '../../../workers/control-plane/definition.js';
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

// The DVC dialect (connectors/examples/cantho-dvc.yaml) lists a scope (at most 5,000 entries) but cannot hash,
// and serves records by code: listings are compared bucket by bucket and only the differing dossiers fetched.

const apiKey = 'dvc-reconcile-key-77aa';
let province: SyncedProvince;

beforeAll(async () => {
  province = await syncedProvince(
    { provinces: ['92'], credentials: { apiKey } },
    async (db, url) => {
      const text = await readFile(new URL('../../../connectors/examples/cantho-dvc.yaml', import.meta.url), 'utf8');
      const definition = parseDefinitionText(text.replaceAll('http://127.0.0.1:9090', url), 'cantho-dvc.yaml');
      await saveConnector(db, { ...definition, pollIntervalMs: 300 });
      return definition.id;
    },
    { sync: 'poll', env: { CANTHO_DVC_API_KEY: apiKey } },
  );
}, 180_000);
afterAll(async () => {
  await province?.stop();
});

it('names every drifted dossier from listings, repairs what moved forward and records the rest', async () => {
  const { expected, rewritten, deleted } = injectEveryKind(province.simulator, '92');
  const share = await shareByTruth(province);
  const result = await runFleet(reconcileArgs('cantho-dvc'), province.settings());
  expect(result.output).toMatch(/reconcile run 1 of connector cantho-dvc done/);
  expect(result.code).toBe(0);
  const run = await lastRun(province.env.db);
  expect(run).toMatchObject({ status: 'done', ...expected });
  // The dossiers compared and in sync: exactly what the truth said before the run.
  expect(await shareOfLastRun(province.env.db, 'cantho-dvc')).toEqual({ provinceCode: '92', ...share });
  const anomalies = await anomalyCodes(province.env.db, run.id);
  expect(anomalies.disappeared).toEqual([...deleted].sort());
  expect(anomalies.versionBackwards).toEqual([...rewritten].sort());
  const method = await province.env.db.selectFrom('reconcile_runs').select('method').executeTakeFirstOrThrow();
  expect(method.method).toBe('listing');
  expect(await compareWithTruth(province.env.db, province.simulator)).toMatchObject({
    missing: 0,
    different: rewritten.length,
    extra: deleted.length,
  });
});
