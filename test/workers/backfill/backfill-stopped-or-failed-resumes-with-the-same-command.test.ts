import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { registerSimulatorConnector } from '../../support/connectors.js';
import { runFleet, spawnFleet, type FleetProcess } from '../../support/fleet-process.js';
import { compareWithTruth, duplicateHistoryRows } from '../../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

const baseTime = new Date('2026-11-20T00:00:00Z');
let env: TestEnvironment;
let simulator: ProvinceSimulator;
let writer: FleetProcess | null = null;
let backfill: FleetProcess | null = null;

const settings = () => ({ ...env.config, LOG_LEVEL: 'warn' }) as unknown as Record<string, string>;
const args = [
  'backfill',
  '--connector',
  'sim-01',
  '--from',
  '2026-10-20',
  '--to',
  '2026-11-20',
  '--window-hours',
  '12',
];
const run = () => env.db.selectFrom('backfill_runs').selectAll().executeTakeFirstOrThrow();

beforeAll(async () => {
  env = await createTestEnvironment();
  simulator = new ProvinceSimulator({
    provinces: ['01'],
    dossiersPerProvince: 15_000,
    seed: 6,
    baseTime,
    paused: true,
  });
  const url = await simulator.start();
  await registerSimulatorConnector(env.db, url, '01', { pageSize: 100 });
  writer = spawnFleet(['start', '--role', 'writer'], settings());
});
afterAll(async () => {
  backfill?.child.kill('SIGKILL');
  writer?.child.kill('SIGKILL');
  await simulator?.stop();
  await env?.cleanup();
});

it('stops on SIGTERM after the page in hand, fails on a source that is down, and finishes when run again', async () => {
  backfill = spawnFleet(args, settings());
  await waitFor(async () => ((await run().catch(() => null))?.windows_done ?? 0) >= 4, 'four windows done');
  backfill.child.kill('SIGTERM');
  expect(await backfill.exited).toBe(1);
  expect(backfill.output()).toMatch(
    /backfill run 1 of connector sim-01 stopped at \d+\/62 windows, \d+ records, 0 dead letters .*; run the same command again to resume it/,
  );
  expect(await run()).toMatchObject({ status: 'running', error: null });

  backfill = spawnFleet(args, settings());
  const before = (await run()).windows_done;
  await waitFor(async () => (await run()).windows_done >= before + 4, 'four more windows done');
  simulator.setFault('01', { down: true });
  expect(await backfill.exited).toBe(1);
  expect(backfill.output()).toMatch(
    /^backfill run 1 of connector sim-01 failed at \d+\/62 windows, .*: connector sim-01: GET \/api\/dossiers.*; run the same command again to resume it$/m,
  );
  expect(backfill.output()).not.toMatch(/unexpected error|\n\s+at /);
  const failed = await run();
  expect(failed.status).toBe('failed');
  expect(failed.error).toMatch(/connector sim-01/);
  expect(failed.windows_done).toBeLessThan(62);

  simulator.setFault('01', null);
  const last = await runFleet(args, settings());
  expect(last.output).toMatch(/backfill run 1 of connector sim-01 done: 62\/62 windows, 15000 records, 0 dead letters/);
  expect(last.code).toBe(0);
  expect(await run()).toMatchObject({ status: 'done', error: null, records: '15000' });
  expect(await compareWithTruth(env.db, simulator)).toMatchObject({
    expected: 15_000,
    missing: 0,
    different: 0,
    extra: 0,
  });
  expect(await duplicateHistoryRows(env.db)).toBe(0);
  const actions = await env.db.selectFrom('audit_events').select('action').orderBy('id').execute();
  expect(actions.map(({ action }) => action)).toEqual(['backfill.start', 'backfill.resume', 'backfill.resume']);
});
