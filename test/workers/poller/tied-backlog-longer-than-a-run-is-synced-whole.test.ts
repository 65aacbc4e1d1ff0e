import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { readCursor } from '../../../db/queries/sync-cursors.js';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { startFleet, roles, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { registerSimulatorConnector } from '../../support/connectors.js';
import { compareWithTruth } from '../../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// A bulk change stamps a whole backlog with one update time: 850 dossiers in pages of 2 are 425 pages inside
// the look-back window of the code plugins' cursors. A run reads 200 pages; the next must carry the walk on
// from the last committed page, not re-read the look-back window from its start (and stop at the same page).

let env: TestEnvironment;
let simulator: ProvinceSimulator;
let fleet: Fleet;

beforeAll(async () => {
  env = await createTestEnvironment();
  simulator = new ProvinceSimulator({
    provinces: ['01', '79'],
    dossiersPerProvince: 850,
    sameUpdatedAt: true,
    paused: true,
    seed: 11,
  });
  const url = await simulator.start();
  // national-rest (keyset, look-back 3 s) for 79; lgsp-soap (offset from a since-time, look-back 120 s) for 01.
  await registerSimulatorConnector(env.db, url, '79', { pageSize: 2, pollIntervalMs: 3_600_000 });
  process.env.DOSSIER_SYNC_TEST_LGSP_PASSWORD = 'unused: the simulator is open without credentials';
  await saveConnector(env.db, {
    id: 'hanoi-lgsp',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    kind: 'lgsp-soap',
    config: {
      baseUrl: url,
      username: 'lgsp-user',
      password: { env: 'DOSSIER_SYNC_TEST_LGSP_PASSWORD' },
      pageSize: 2,
      rateLimit: { requestsPerSecond: 1000 },
    },
    pollIntervalMs: 3_600_000,
  });
  fleet = await startFleet(env.config, roles, createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  await simulator?.stop();
  await env?.cleanup();
});

it('syncs a tied backlog of 425 pages whole through national-rest and lgsp-soap, each walk ending', async () => {
  await waitFor(
    async () => (await compareWithTruth(env.db, simulator)).missing === 0,
    'every tied dossier of both provinces stored',
    150_000,
  );
  expect(await compareWithTruth(env.db, simulator)).toMatchObject({
    expected: 1700,
    missing: 0,
    different: 0,
    extra: 0,
  });
  for (const id of ['sim-79', 'hanoi-lgsp']) {
    await waitFor(
      async () => !Object.hasOwn(((await readCursor(env.db, id)) ?? { resume: true }) as object, 'resume'),
      `the walk of ${id} ended`,
    );
    const runs = (await fleet.metrics.pollRuns.get()).values.filter(
      (value) => value.labels.connector === id && value.labels.outcome === 'continued',
    );
    expect(runs[0]?.value ?? 0, id).toBeGreaterThanOrEqual(2);
  }
  const rows = await env.db.selectFrom('connectors').select(['id', 'last_error']).execute();
  expect(rows.filter((row) => row.last_error !== null)).toEqual([]);
}, 180_000);
