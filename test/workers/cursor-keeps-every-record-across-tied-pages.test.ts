import { afterAll, beforeAll, expect, it } from 'vitest';
import { readCursor } from '../../db/queries/sync-cursors.js';
import { ProvinceSimulator } from '../../scripts/tools/simulator/province-simulator.js';
import { startFleet, roles, type Fleet } from '../../workers/fleet.js';
import { createLogger } from '../../workers/logger.js';
import { registerSimulatorConnector } from '../support/connectors.js';
import { compareWithTruth, duplicateHistoryRows } from '../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../support/test-environment.js';

let env: TestEnvironment;
let simulator: ProvinceSimulator;
let fleet: Fleet;

beforeAll(async () => {
  env = await createTestEnvironment();
  // 5,000 dossiers that all share one update time: every page boundary falls inside the tie.
  simulator = new ProvinceSimulator({
    provinces: ['01'],
    dossiersPerProvince: 5000,
    sameUpdatedAt: true,
    paused: true,
    seed: 3,
  });
  const url = await simulator.start();
  await registerSimulatorConnector(env.db, url, '01', { pageSize: 700 });
  fleet = await startFleet(env.config, roles, createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  await simulator?.stop();
  await env?.cleanup();
});

it('syncs every one of 5,000 records sharing one update time across page boundaries', async () => {
  await waitFor(async () => (await compareWithTruth(env.db, simulator)).missing === 0, 'every tied record stored');
  const comparison = await compareWithTruth(env.db, simulator);
  expect(comparison).toMatchObject({ expected: 5000, missing: 0, different: 0, extra: 0 });
  expect(await duplicateHistoryRows(env.db)).toBe(0);

  // The committed cursor reaches the last record of the tie, and stays there while later runs re-read the
  // look-back window: it never moves backwards.
  const last = [...simulator.truth()].sort((a, b) => (a.dossierCode < b.dossierCode ? -1 : 1)).at(-1)!;
  await waitFor(
    async () => ((await readCursor(env.db, 'sim-01')) as { afterCode?: string } | null)?.afterCode === last.dossierCode,
    'cursor at the last record',
  );
  const runs = async () =>
    (await fleet.metrics.pollRuns.get()).values
      .filter((v) => v.labels.outcome === 'caught_up')
      .reduce((sum, v) => sum + v.value, 0);
  const seen = await runs();
  while ((await runs()) < seen + 3) {
    expect(await readCursor(env.db, 'sim-01')).toMatchObject({ afterCode: last.dossierCode });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});
