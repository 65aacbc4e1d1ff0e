import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { registerSimulatorConnector } from '../../support/connectors.js';
import { spawnFleet, type FleetProcess } from '../../support/fleet-process.js';
import { compareWithTruth, duplicateHistoryRows } from '../../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// A `fleet backfill` SIGKILLed mid-way is carried on by a fleet process of the reconciler role, from its committed
// progress; SIGTERM to that process stops the run after the page in hand and leaves it running (resumable), and the
// next reconciler finishes it. The dossiers stored are exactly the simulator's truth, every record counted once.

const baseTime = new Date('2026-11-20T00:00:00Z');
const args = ['backfill', '--connector', 'sim-79', '--from', '2026-10-19', '--to', '2026-11-21'];
let env: TestEnvironment;
let simulator: ProvinceSimulator;
const processes: FleetProcess[] = [];

const settings = () => ({ ...env.config, LOG_LEVEL: 'warn' }) as unknown as Record<string, string>;
const run = async () => (await env.db.selectFrom('backfill_runs').selectAll().execute())[0];
const start = (roleOrArgs: string[]) => {
  const started = spawnFleet(roleOrArgs, settings());
  processes.push(started);
  return started;
};

beforeAll(async () => {
  env = await createTestEnvironment();
  simulator = new ProvinceSimulator({
    provinces: ['79'],
    dossiersPerProvince: 10_000,
    seed: 17,
    baseTime,
    paused: true,
  });
  const url = await simulator.start();
  // Small pages: several pages per window, batches in flight when a process stops.
  await registerSimulatorConnector(env.db, url, '79', { pageSize: 100 });
  // Paused: no poll reads it, only the backfill.
  await env.db.updateTable('connectors').set({ state: 'paused' }).execute();
  start(['start', '--role', 'writer']);
});
afterAll(async () => {
  for (const started of processes) started.child.kill('SIGKILL');
  await simulator?.stop();
  await env?.cleanup();
});

it('carries on a killed fleet backfill, stops it resumable on SIGTERM, and finishes it to the truth', async () => {
  const command = start(args);
  await waitFor(async () => ((await run())?.windows_done ?? 0) >= 4, 'the command past 4 windows');
  command.child.kill('SIGKILL');
  expect(await command.exited).toBe('SIGKILL');
  const killedAt = (await run())!.windows_done;
  expect(await run()).toMatchObject({ status: 'running' });

  const reconciler = start(['start', '--role', 'reconciler']);
  await waitFor(
    async () => ((await run())?.windows_done ?? 0) >= killedAt + 4,
    'the reconciler carrying the run on',
    60_000,
  );
  reconciler.child.kill('SIGTERM');
  expect(await reconciler.exited).toBe(0);
  const stoppedAt = await run();
  expect(stoppedAt).toMatchObject({ status: 'running', error: null });
  expect(stoppedAt!.windows_done).toBeLessThan(33);

  start(['start', '--role', 'reconciler']);
  await waitFor(async () => (await run())?.status === 'done', 'the next reconciler finishing the run', 60_000);
  expect(await run()).toMatchObject({
    windows_done: 33,
    records: '10000',
    dead_letters: '0',
    started_by: expect.stringMatching(/^cli:/),
  });
  expect(await compareWithTruth(env.db, simulator)).toMatchObject({
    expected: 10_000,
    missing: 0,
    different: 0,
    extra: 0,
  });
  expect(await duplicateHistoryRows(env.db)).toBe(0);
  // Started once, by the command; carried on, not started again.
  const events = await env.db
    .selectFrom('audit_events')
    .select(['action', 'actor_kind'])
    .where('action', 'like', 'backfill.%')
    .execute();
  expect(events).toEqual([{ action: 'backfill.start', actor_kind: 'cli' }]);
});
