import { Queue, type Job } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { ingestQueueName } from '../../../workers/queue/queues.js';
import { registerSimulatorConnector } from '../../support/connectors.js';
import { spawnFleet, type FleetProcess } from '../../support/fleet-process.js';
import { compareWithTruth, duplicateHistoryRows } from '../../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// A backfill of a connector while its live sync runs: both hand batches to the same province's queue, and the
// writer takes every live batch waiting before a backfill's.

let env: TestEnvironment;
let simulator: ProvinceSimulator;
let queue: Queue;
const processes: FleetProcess[] = [];

const settings = () => ({ ...env.config, LOG_LEVEL: 'warn' }) as unknown as Record<string, string>;
const start = (args: string[]) => {
  const started = spawnFleet(args, settings());
  processes.push(started);
  return started;
};

beforeAll(async () => {
  // Every committed batch is kept, to read afterwards when each was taken (3 a queue by default).
  env = await createTestEnvironment({ INGEST_KEPT_COMPLETED_BATCHES: '10000' });
  // Moving: the live sync has changes to carry while the backfill reads the history.
  simulator = new ProvinceSimulator({
    provinces: ['79'],
    dossiersPerProvince: 10_000,
    seed: 8,
    tickMs: 100,
    changesPerTick: 5,
  });
  const url = await simulator.start();
  await registerSimulatorConnector(env.db, url, '79', { pageSize: 200, pollIntervalMs: 300 });
  queue = new Queue(ingestQueueName('79'), {
    connection: { url: env.config.REDIS_URL },
    prefix: env.config.QUEUE_PREFIX,
  });
});
afterAll(async () => {
  for (const started of processes) started.child.kill('SIGKILL');
  await queue?.close();
  await simulator?.stop();
  await env?.cleanup();
});

const isBackfill = (job: Job) => (job.data as { backfill?: unknown }).backfill !== undefined;

it('writes a live batch queued after a waiting backfill batch first, and never takes a backfill batch while a live one waits', async () => {
  // No writer yet: the backfill's first batch waits in the queue, then the first live one after it.
  const now = Date.now();
  const backfill = start([
    'backfill',
    '--connector',
    'sim-79',
    '--from',
    new Date(now - 31 * 86_400_000).toISOString(),
    '--to',
    new Date(now - 60_000).toISOString(),
  ]);
  await waitFor(async () => (await queue.getJobCounts('prioritized')).prioritized === 1, 'a backfill batch waiting');
  start(['start', '--role', 'poller,scheduler']);
  // At least one: a poller keeps several pages in flight (pagesInFlight), each its own batch.
  await waitFor(
    async () => ((await queue.getJobCounts('waiting')).waiting ?? 0) >= 1,
    'a live batch waiting behind it',
  );
  const [waitingBackfill] = await queue.getJobs(['prioritized']);
  const [waitingLive] = await queue.getJobs(['waiting']);
  expect(waitingLive!.timestamp).toBeGreaterThan(waitingBackfill!.timestamp);

  start(['start', '--role', 'writer']);
  expect(await backfill.exited).toBe(0);
  expect(backfill.output()).toMatch(/backfill run 1 of connector sim-79 done: 31\/31 windows/);
  simulator.pause();
  await waitFor(async () => {
    const comparison = await compareWithTruth(env.db, simulator);
    return comparison.missing === 0 && comparison.different === 0;
  }, 'the live sync caught up with the truth');
  expect(await compareWithTruth(env.db, simulator)).toMatchObject({ expected: 10_000, extra: 0 });
  expect(await duplicateHistoryRows(env.db)).toBe(0);

  const done = await queue.getJobs(['completed']);
  const backfills = done.filter(isBackfill);
  const lives = done.filter((job) => !isBackfill(job));
  expect(backfills.length).toBeGreaterThan(30);
  expect(lives.length).toBeGreaterThan(10);
  // Queued later, written first.
  const first = (id: string | undefined) => done.find((job) => job.id === id)!;
  expect(first(waitingLive!.id).processedOn!).toBeLessThan(first(waitingBackfill!.id).processedOn!);
  // Throughout: no backfill batch was taken while a live batch had been waiting for a while (a margin of half a
  // second for a live batch on its way to Redis as the writer took the backfill's).
  const overtaken = backfills.filter((backfillJob) =>
    lives.some(
      (live) => live.timestamp + 500 < backfillJob.processedOn! && live.processedOn! > backfillJob.processedOn!,
    ),
  );
  expect(overtaken).toEqual([]);
});
