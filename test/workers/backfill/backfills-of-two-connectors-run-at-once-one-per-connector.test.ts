import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { runFleet, spawnFleet, type FleetProcess } from '../../support/fleet-process.js';
import { compareWithTruth, duplicateHistoryRows } from '../../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

const baseTime = new Date('2026-11-20T00:00:00Z');
const range = ['--from', '2026-10-19T00:00:00Z', '--to', '2026-11-21T00:00:00Z'];
let env: TestEnvironment;
let simulator: ProvinceSimulator;
let writer: FleetProcess | null = null;
const backfills: FleetProcess[] = [];

const settings = () => ({ ...env.config, LOG_LEVEL: 'warn' }) as unknown as Record<string, string>;
const runs = () => env.db.selectFrom('backfill_runs').selectAll().orderBy('connector_id').execute();

beforeAll(async () => {
  env = await createTestEnvironment();
  simulator = new ProvinceSimulator({
    provinces: ['01', '79'],
    dossiersPerProvince: 20_000,
    seed: 4,
    baseTime,
    paused: true,
  });
  const url = await simulator.start();
  for (const province of ['01', '79']) {
    // A low rate limit: each backfill takes a while, paced by its own connector's limit.
    await saveConnector(env.db, {
      id: `sim-${province}`,
      sourceProvinceCode: province,
      sourceCodeSet: '2025',
      kind: 'national-rest',
      config: { baseUrl: url, pageSize: 200, rateLimit: { requestsPerSecond: 8 } },
      pollIntervalMs: 60_000,
    });
  }
  writer = spawnFleet(['start', '--role', 'writer'], settings());
});
afterAll(async () => {
  for (const backfill of backfills) backfill.child.kill('SIGKILL');
  writer?.child.kill('SIGKILL');
  await simulator?.stop();
  await env?.cleanup();
});

it('runs backfills of two connectors at the same time, and refuses a second one of the same connector', async () => {
  for (const id of ['sim-01', 'sim-79'])
    backfills.push(spawnFleet(['backfill', '--connector', id, ...range], settings()));
  // Both in progress at one moment: neither waits for the other.
  await waitFor(async () => {
    const now = await runs();
    return now.length === 2 && now.every((run) => run.windows_done > 0 && run.status === 'running');
  }, 'both runs past their first window at the same time');

  const second = await runFleet(['backfill', '--connector', 'sim-01', ...range], settings());
  expect(second.code).toBe(1);
  expect(second.output).toMatch(
    /connector sim-01 is being backfilled by another process now: backfill run \d+ of connector sim-01 \(2026-10-19T00:00:00.000Z to 2026-11-21T00:00:00.000Z, 24 h windows, \d+\/33 done, running, started by cli:/,
  );
  const other = await runFleet(
    ['backfill', '--connector', 'sim-79', '--from', '2026-11-01', '--to', '2026-11-02'],
    settings(),
  );
  expect(other.code).toBe(1);
  expect(other.output).toMatch(/connector sim-79 is being backfilled by another process now: backfill run \d+/);

  expect(await Promise.all(backfills.map((backfill) => backfill.exited))).toEqual([0, 0]);
  expect(await runs()).toMatchObject([
    { connector_id: 'sim-01', status: 'done', windows_done: 33, records: '20000' },
    { connector_id: 'sim-79', status: 'done', windows_done: 33, records: '20000' },
  ]);
  expect(await compareWithTruth(env.db, simulator)).toMatchObject({
    expected: 40_000,
    missing: 0,
    different: 0,
    extra: 0,
  });
  expect(await duplicateHistoryRows(env.db)).toBe(0);
});
