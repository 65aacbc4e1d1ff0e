import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { registerSimulatorConnector } from '../../support/connectors.js';
import { runFleet, spawnFleet, type FleetProcess } from '../../support/fleet-process.js';
import { compareWithTruth, duplicateHistoryRows } from '../../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// The backfill runs in its own process (`fleet backfill`) and a writer commits its batches: the backfill is
// SIGKILLed twice mid-way, then run again to its end.

const dossiers = 12_000;
const baseTime = new Date('2026-11-20T00:00:00Z');
const from = new Date(baseTime.getTime() - 31 * 86_400_000);
const to = new Date(baseTime.getTime() + 86_400_000);
let env: TestEnvironment;
let simulator: ProvinceSimulator;
let writer: FleetProcess | null = null;
let backfill: FleetProcess | null = null;

const settings = () => ({ ...env.config, LOG_LEVEL: 'warn' }) as unknown as Record<string, string>;
const args = ['backfill', '--connector', 'sim-79', '--from', from.toISOString(), '--to', to.toISOString()];
const windowsDone = async () =>
  Number(
    (await sql<{ n: number | null }>`SELECT max(windows_done) AS n FROM backfill_runs`.execute(env.db)).rows[0]?.n ?? 0,
  );

beforeAll(async () => {
  env = await createTestEnvironment();
  // Paused: the truth for the range does not move while it is backfilled.
  simulator = new ProvinceSimulator({
    provinces: ['79'],
    dossiersPerProvince: dossiers,
    seed: 9,
    baseTime,
    paused: true,
    // Dead letters are counted once too.
    malformedRate: 0.01,
  });
  const url = await simulator.start();
  // Small pages: several pages per window, and batches in flight when the process dies.
  await registerSimulatorConnector(env.db, url, '79', { pageSize: 200 });
  writer = spawnFleet(['start', '--role', 'writer'], settings());
});
afterAll(async () => {
  backfill?.child.kill('SIGKILL');
  writer?.child.kill('SIGKILL');
  await simulator?.stop();
  await env?.cleanup();
});

it('stores exactly the truth of the range, with no repeated history and every window counted once', async () => {
  for (const threshold of [5, 16]) {
    backfill = spawnFleet(args, settings());
    await waitFor(async () => (await windowsDone()) >= threshold, `${threshold} windows done before the kill`, 120_000);
    backfill.child.kill('SIGKILL');
    expect(await backfill.exited).toBe('SIGKILL');
  }
  const killedAt = await windowsDone();
  expect(killedAt).toBeGreaterThanOrEqual(16);
  expect(killedAt).toBeLessThan(32);

  const malformed = [...simulator.truth()].filter((row) => row.malformed !== null).length;
  expect(malformed).toBeGreaterThan(50);
  const wellFormed = dossiers - malformed;
  const last = await runFleet(args, settings());
  expect(last.output).toMatch(
    `backfill run 1 of connector sim-79 done: 32/32 windows, ${wellFormed} records, ${malformed} dead letters`,
  );
  expect(last.code).toBe(0);

  expect(await compareWithTruth(env.db, simulator)).toMatchObject({
    expected: wellFormed,
    missing: 0,
    different: 0,
    extra: 0,
  });
  expect(await duplicateHistoryRows(env.db)).toBe(0);
  const runs = await env.db.selectFrom('backfill_runs').selectAll().execute();
  expect(runs).toHaveLength(1);
  // Records are counted with the progress that covers them: a page read again after a kill counts nothing.
  expect(runs[0]).toMatchObject({
    status: 'done',
    windows_done: 32,
    windows_total: 32,
    records: String(wellFormed),
    dead_letters: String(malformed),
    position: null,
  });
  expect(runs[0]!.finished_at).not.toBeNull();
  // Each bad record is kept once, however often its page was read.
  expect(await env.db.selectFrom('dead_letters').select('id').execute()).toHaveLength(malformed);
  expect(runs[0]!.started_by).toMatch(/^cli:/);
  // A backfill never moves the connector's poll cursor.
  expect(await env.db.selectFrom('sync_cursors').selectAll().execute()).toEqual([]);

  const audit = await env.db
    .selectFrom('audit_events')
    .select(['action', 'connector_id', 'province_code', 'details'])
    .orderBy('id')
    .execute();
  expect(audit.map((event) => event.action)).toEqual(['backfill.start', 'backfill.resume', 'backfill.resume']);
  expect(audit[0]).toMatchObject({ connector_id: 'sim-79', province_code: '79', details: { run: '1', windows: 32 } });

  const status = await runFleet(['backfill', '--status', '-o', 'json'], settings());
  expect(status.code).toBe(0);
  expect(JSON.parse(status.output)).toMatchObject({
    runs: [{ id: '1', connectorId: 'sim-79', windowsDone: 32, windowsTotal: 32, records: wellFormed, status: 'done' }],
  });
});
