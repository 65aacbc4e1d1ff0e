import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { registerSimulatorConnector } from '../../support/connectors.js';
import { spawnFleet, type FleetProcess } from '../../support/fleet-process.js';
import { sparePort } from '../../support/own-services.js';
import { compareWithTruth, duplicateHistoryRows } from '../../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// Scale-out by processes: three writer and two poller processes (and one scheduler) against one Redis and one
// Postgres, as on several machines. They share the work — BullMQ hands each job to one worker, the poll lock keeps
// one run per connector — and repeat none of it: each dossier is inserted once across all writers, each of its
// states enters the history once, and the statuses that keep moving during the sync all arrive.

const provinces = ['01', '48', '79', '92'];
let env: TestEnvironment;
let simulator: ProvinceSimulator;
const processes: { role: string; port: number; fleet: FleetProcess }[] = [];

/** The sum of a counter's samples in one process's /metrics, over the samples whose labels match `labels`. */
async function counter(port: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(`${name}{`) && line.includes(labels)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

beforeAll(async () => {
  env = await createTestEnvironment();
  simulator = new ProvinceSimulator({
    provinces,
    dossiersPerProvince: 3_000,
    seed: 41,
    tickMs: 50,
    changesPerTick: 20,
  });
  const url = await simulator.start();
  // Small pages: many batches, so every writer gets its share.
  for (const province of provinces) await registerSimulatorConnector(env.db, url, province, { pageSize: 250 });
}, 60_000);
afterAll(async () => {
  for (const { fleet } of processes) fleet.killGroup('SIGKILL');
  await simulator?.stop();
  await env?.cleanup();
});

it('ends equal to the truth with each dossier inserted once and each state recorded once', async () => {
  for (const role of ['writer', 'writer', 'writer', 'poller', 'poller', 'scheduler']) {
    const port = await sparePort();
    const fleet = spawnFleet(['start', '--role', role], {
      ...(env.config as unknown as Record<string, string>),
      HTTP_PORT: String(port),
      LOG_LEVEL: 'warn',
    });
    processes.push({ role, port, fleet });
  }
  for (const { role, port, fleet } of processes)
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.ok === true,
      `the ${role} on :${port} is ready; output: ${fleet.output().slice(-400)}`,
      60_000,
      200,
    );

  await waitFor(async () => (await compareWithTruth(env.db, simulator)).missing === 0, 'every dossier stored');
  simulator.pause();
  await waitFor(async () => {
    const comparison = await compareWithTruth(env.db, simulator);
    return comparison.missing === 0 && comparison.different === 0;
  }, 'equal to the truth');
  expect(await compareWithTruth(env.db, simulator)).toMatchObject({
    expected: provinces.length * 3_000,
    missing: 0,
    different: 0,
    extra: 0,
  });
  expect(await duplicateHistoryRows(env.db)).toBe(0);

  const writers = processes.filter(({ role }) => role === 'writer');
  const pollers = processes.filter(({ role }) => role === 'poller');
  const inserted = await Promise.all(
    writers.map(({ port }) => counter(port, 'dossier_sync_records_written_total', 'outcome="inserted"')),
  );
  const runs = await Promise.all(pollers.map(({ port }) => counter(port, 'dossier_sync_poll_runs_total')));
  // Each dossier inserted by exactly one writer, once: no batch applied twice as new.
  expect(inserted.reduce((a, b) => a + b, 0)).toBe(provinces.length * 3_000);
  // The work was shared: more than one writer committed dossiers, and both pollers ran polls.
  expect(inserted.filter((n) => n > 0).length, `inserted per writer: ${inserted.join(', ')}`).toBeGreaterThanOrEqual(2);
  expect(
    runs.every((n) => n > 0),
    `poll runs per poller: ${runs.join(', ')}`,
  ).toBe(true);

  // Pollers first: a stopping poller waits for its in-flight pages to commit, which needs the writers still up
  // (stopped together on a loaded machine, a poller could outwait its shutdown timeout and exit 1).
  const ordered = [...pollers, ...processes.filter(({ role }) => role !== 'poller')];
  for (const { role, fleet } of ordered) {
    fleet.killGroup('SIGTERM');
    if (role !== 'poller') continue;
    expect(await fleet.exited, `${role} exit: ${fleet.output().slice(-3000)}`).toBe(0);
  }
  for (const { role, fleet } of ordered) {
    expect(await fleet.exited, `${role} exit: ${fleet.output().slice(-3000)}`).toBe(0);
    expect(fleet.output()).not.toMatch(/unhandled|uncaught/i);
  }
}, 120_000);
