import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { roles, startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { registerSimulatorConnector } from '../../support/connectors.js';
import { compareWithTruth, duplicateHistoryRows } from '../../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { deliver, issueSecret, signed, testSecretsKey } from './webhook-client.js';

// One province system both polled and pushing: every change reaches the writer twice or more (a push, a poll, a
// look-back re-read, a re-push), in any order, while statuses keep moving. The version guard decides: the end
// state equals the source, and the history holds no state twice.

const secretsKey = testSecretsKey();
let env: TestEnvironment;
let simulator: ProvinceSimulator;
let simulatorUrl: string;
let fleet: Fleet;
let secret: string;
const connector = 'race-01';

interface Page {
  items: Record<string, unknown>[];
  hasMore: boolean;
}

/**
 * Reads every dossier from the simulator as the province system would push them, and pushes them in deliveries of 50.
 */
async function pushEverything(): Promise<number> {
  let updatedSince: string | null = null;
  let afterCode: string | null = null;
  let pushed = 0;
  for (;;) {
    const query = new URLSearchParams({ province: '01', limit: '400' });
    if (updatedSince) query.set('updatedSince', updatedSince);
    if (afterCode) query.set('afterCode', afterCode);
    const page = (await (await fetch(`${simulatorUrl}/api/dossiers?${query}`)).json()) as Page;
    const deliveries = [];
    for (let i = 0; i < page.items.length; i += 50) deliveries.push(page.items.slice(i, i + 50));
    const answers = await Promise.all(deliveries.map((items) => deliver(fleet.url, connector, signed(secret, items))));
    for (const answer of answers) expect(answer.status).toBe(202);
    pushed += page.items.length;
    const last = page.items.at(-1);
    if (!page.hasMore || !last) return pushed;
    updatedSince = String(last.NgayCapNhat);
    afterCode = String(last.MaHoSo);
  }
}

beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: secretsKey });
  simulator = new ProvinceSimulator({
    provinces: ['01'],
    dossiersPerProvince: 3_000,
    seed: 21,
    tickMs: 50,
    changesPerTick: 25,
  });
  simulatorUrl = await simulator.start();
  await registerSimulatorConnector(env.db, simulatorUrl, '01', { id: connector, pageSize: 500, pollIntervalMs: 300 });
  secret = await issueSecret(env.db, secretsKey, connector, 0);
  fleet = await startFleet(env.config, roles, createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  await simulator?.stop();
  await env?.cleanup();
});

it('ends equal to the source when pushes and polls of the same changes race', async () => {
  // Pushes race the poller's first sync and its later runs, while the source keeps moving.
  // (A dossier that moves during a sweep is met again further on: a sweep pushes at least every dossier once.)
  for (let sweep = 0; sweep < 3; sweep++) expect(await pushEverything()).toBeGreaterThanOrEqual(3_000);
  simulator.pause();
  await pushEverything();
  await waitFor(async () => {
    const comparison = await compareWithTruth(env.db, simulator);
    return comparison.missing === 0 && comparison.different === 0;
  }, 'every dossier equal to the source');

  expect(await compareWithTruth(env.db, simulator)).toMatchObject({
    expected: 3_000,
    missing: 0,
    different: 0,
    extra: 0,
  });
  expect(await duplicateHistoryRows(env.db)).toBe(0);

  // Both paths carried the changes, and most arrivals were repeats the guard turned into no-ops.
  const metrics = await (await fetch(`${fleet.url}/metrics`)).text();
  expect(metrics).toMatch(
    new RegExp(`dossier_sync_webhook_records_total\\{connector="${connector}",outcome="accepted"\\} (\\d+)`),
  );
  expect(
    Number(/dossier_sync_webhook_records_total\{connector="race-01",outcome="accepted"\} (\d+)/.exec(metrics)![1]),
  ).toBeGreaterThanOrEqual(12_000);
  expect(metrics).toMatch(
    /dossier_sync_poll_runs_total\{province="01",connector="race-01",outcome="caught_up"\} [1-9]/,
  );
  expect(
    Number(/dossier_sync_records_written_total\{province="01",outcome="unchanged"\} (\d+)/.exec(metrics)![1]),
  ).toBeGreaterThan(3_000);
});
