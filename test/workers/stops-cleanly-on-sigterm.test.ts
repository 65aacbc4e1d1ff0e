import { afterAll, beforeAll, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { sql } from 'kysely';
import { ProvinceSimulator } from '../../scripts/tools/simulator/province-simulator.js';
import { ingestQueueName } from '../../workers/queue/queues.js';
import { registerSimulatorConnector } from '../support/connectors.js';
import { spawnFleet, type FleetProcess } from '../support/fleet-process.js';
import { compareWithTruth } from '../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../support/test-environment.js';

let env: TestEnvironment;
let simulator: ProvinceSimulator;
let fleet: FleetProcess | null = null;
const rows = async () =>
  Number((await sql<{ n: string }>`SELECT count(*) AS n FROM dossiers`.execute(env.db)).rows[0]!.n);
const start = () => spawnFleet(['start'], { ...env.config, LOG_LEVEL: 'info' } as unknown as Record<string, string>);

beforeAll(async () => {
  env = await createTestEnvironment();
  simulator = new ProvinceSimulator({ provinces: ['33'], dossiersPerProvince: 30_000, paused: true, seed: 21 });
  await registerSimulatorConnector(env.db, await simulator.start(), '33', { pageSize: 500 });
});
afterAll(async () => {
  fleet?.child.kill('SIGKILL');
  await simulator?.stop();
  await env?.cleanup();
});

it('on SIGTERM in the middle of a sync, finishes the batch in hand, leaves nothing in flight and exits 0', async () => {
  fleet = start();
  await waitFor(async () => (await rows()) >= 3000, 'sync under way');
  fleet.child.kill('SIGTERM');
  expect(await fleet.exited).toBe(0);
  expect(fleet.output()).toMatch(/fleet stopped/);
  expect(await rows()).toBeLessThan(30_000);

  const queue = new Queue(ingestQueueName('33'), {
    connection: { url: env.config.REDIS_URL },
    prefix: env.config.QUEUE_PREFIX,
  });
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
  await queue.close();
  expect(counts).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0 });

  fleet = start();
  await waitFor(
    async () => (await compareWithTruth(env.db, simulator)).missing === 0,
    'the rest synced after a restart',
  );
  expect(await compareWithTruth(env.db, simulator)).toMatchObject({ expected: 30_000, different: 0, extra: 0 });
  fleet.child.kill('SIGTERM');
  expect(await fleet.exited).toBe(0);
});
