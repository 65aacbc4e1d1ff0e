import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { registerSimulatorConnector } from '../../support/connectors.js';
import { spawnFleet, type FleetProcess } from '../../support/fleet-process.js';
import { sparePort } from '../../support/own-services.js';
import { OwnRedisCluster } from '../../support/own-redis-cluster.js';
import { compareWithTruth, duplicateHistoryRows } from '../../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import {
  deliver,
  nationalUpdate,
  registerWebhookConnector,
  signed,
  testSecretsKey,
} from '../webhooks/webhook-client.js';

// The fleet on a real three-master Redis Cluster (REDIS_URL=redis-cluster://…): every multi-key command and Lua
// script — BullMQ's, the poll lock, the request gate, the delivery ledger, the API rate limit — keeps its keys in one
// hash slot, or Redis answers CROSSSLOT and nothing moves. Polls and writes of two provinces, and one pushed delivery.

const provinces = ['79', '92'];
const secretsKey = testSecretsKey();
let env: TestEnvironment;
let cluster: OwnRedisCluster;
let simulator: ProvinceSimulator;
let fleet: FleetProcess | null = null;

beforeAll(async () => {
  cluster = await OwnRedisCluster.start();
  env = await createTestEnvironment({ REDIS_URL: cluster.url, SECRETS_KEY: secretsKey });
  simulator = new ProvinceSimulator({
    provinces,
    dossiersPerProvince: 4_000,
    seed: 14,
    tickMs: 50,
    changesPerTick: 20,
  });
  const url = await simulator.start();
  for (const province of provinces) await registerSimulatorConnector(env.db, url, province, { pageSize: 500 });
}, 60_000);
afterAll(async () => {
  fleet?.killGroup('SIGKILL');
  await simulator?.stop();
  // The test's keys live on its own cluster, stopped here.
  await cluster?.stop();
  await env?.cleanup();
});

it('polls, pushes and writes through a three-master Redis Cluster and ends equal to the truth', async () => {
  const secret = await registerWebhookConnector(env.db, secretsKey, 'push-01', '01');
  const port = await sparePort();
  fleet = spawnFleet(['start', '--role', 'all'], {
    ...(env.config as unknown as Record<string, string>),
    HTTP_PORT: String(port),
    LOG_LEVEL: 'warn',
  });
  const gateway = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => (await fetch(`${gateway}/readyz`).catch(() => null))?.ok === true,
    `the fleet is ready on the cluster; output: ${fleet.output().slice(-500)}`,
    30_000,
    200,
  );

  const answer = await deliver(gateway, 'push-01', signed(secret, [nationalUpdate('PUSH-1', { PhienBan: 3 })]));
  expect(answer.status).toBe(202);

  await waitFor(
    async () => (await compareWithTruth(env.db, simulator)).missing === 0,
    'every simulated dossier stored',
    60_000,
  );
  simulator.pause();
  await waitFor(async () => {
    const comparison = await compareWithTruth(env.db, simulator);
    return comparison.missing === 0 && comparison.different === 0;
  }, 'equal to the truth');
  // The one extra row is the pushed dossier (province 01 is not simulated).
  expect(await compareWithTruth(env.db, simulator)).toMatchObject({
    expected: 8_000,
    missing: 0,
    different: 0,
    extra: 1,
  });
  const pushed = await sql<{ status: number; version: number }>`
    SELECT status, source_version::int AS version FROM dossiers WHERE dossier_code = 'PUSH-1'`.execute(env.db);
  expect(pushed.rows).toEqual([{ status: 4, version: 3 }]);
  expect(await duplicateHistoryRows(env.db)).toBe(0);

  // The work really was spread: the queues' keys are on more than one master.
  const keysPerMaster = await Promise.all(cluster.ports.map(async (p) => Number(await cluster.command(p, 'DBSIZE'))));
  expect(keysPerMaster.filter((keys) => keys > 0).length).toBeGreaterThanOrEqual(2);

  fleet.killGroup('SIGTERM');
  expect(await fleet.exited).toBe(0);
  expect(fleet.output()).not.toMatch(/CROSSSLOT|unhandled|uncaught/i);
}, 120_000);
