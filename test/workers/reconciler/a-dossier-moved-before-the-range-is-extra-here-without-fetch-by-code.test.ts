import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { registerSimulatorConnector } from '../../support/connectors.js';
import { runFleet } from '../../support/fleet-process.js';
import { lastRun, rangeTo, syncedProvince, type SyncedProvince } from '../../support/reconcile.js';
import { anomalyCodes } from './drift-kinds-sum.js';

// A dossier the source moved to before the run's --from (its history rewritten to an older update time) is in
// our copy inside the range and at the source outside it. Only fetch by code can tell "moved" from "gone": a
// connector without it (page by page) records it as extra here and disappeared — what the run can see — and keeps
// our copy; one with it names it a different version that went backwards.

let province: SyncedProvince;

beforeAll(async () => {
  province = await syncedProvince({ dossiersPerProvince: 3000 }, async (db, url) => {
    await saveConnector(db, {
      id: 'sim-79-plain',
      sourceProvinceCode: '79',
      sourceCodeSet: '2025',
      kind: 'national-rest',
      config: { baseUrl: url, pageSize: 500, lookbackSeconds: 3, summaries: false },
      pollIntervalMs: 300,
    });
    return registerSimulatorConnector(db, url, '79', { pageSize: 500 });
  });
}, 120_000);
afterAll(async () => {
  await province?.stop();
});

it('without fetchDossiers it is extra here; with it, a version that went backwards', async () => {
  const report = province.simulator.injectDrift('79', 'rewrite-history', { count: 1 });
  const moved = report.dossiers[0]!;
  const before = Date.parse(moved.before.updatedAt);
  const after = Date.parse(moved.after!.updatedAt);
  // The range starts a second before its old update time, after its new one.
  const from = new Date(Math.floor(before / 1000) * 1000 - 1000);
  expect(after).toBeLessThan(from.getTime());
  const reconcile = async (connector: string) => {
    const args = ['reconcile', '--connector', connector, '--from', from.toISOString(), '--to', rangeTo.toISOString()];
    const result = await runFleet(args, province.settings());
    expect(result.code, result.output).toBe(0);
    return lastRun(province.env.db);
  };

  const plain = await reconcile('sim-79-plain');
  expect(plain).toMatchObject({ status: 'done', extraHere: 1, differentVersion: 0, missingHere: 0, repaired: 0 });
  expect(await anomalyCodes(province.env.db, plain.id)).toEqual({
    disappeared: [moved.dossierCode],
    versionBackwards: [],
  });
  const kept = await province.env.db
    .selectFrom('dossiers')
    .select('source_version')
    .where('dossier_code', '=', moved.dossierCode)
    .executeTakeFirstOrThrow();
  expect(Number(kept.source_version)).toBe(moved.before.version);

  const fetching = await reconcile('sim-79');
  expect(fetching).toMatchObject({ status: 'done', extraHere: 0, differentVersion: 1, missingHere: 0, repaired: 0 });
  expect(await anomalyCodes(province.env.db, fetching.id)).toEqual({
    disappeared: [],
    versionBackwards: [moved.dossierCode],
  });
});
