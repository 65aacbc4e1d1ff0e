import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { createLogger } from '../../../workers/logger.js';
import { FleetMetrics } from '../../../workers/metrics.js';
import type { IngestBatch } from '../../../workers/queue/ingest-message.js';
import { openIngestQueue, type IngestQueue } from '../../../workers/queue/ingest-queue.js';
import { ingestQueueName } from '../../../workers/queue/queues.js';
import { createRedis } from '../../../workers/redis.js';
import { Writer } from '../../../workers/writer/writer.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// Redis holds a batch's records until it is committed, and then only the last few of a province: its memory is
// bounded by batch size × queue depth, not by how many records went through (`fleet bench` measured ≈ 700 B per
// record of N while every committed batch was kept).

let env: TestEnvironment;
let ingest: IngestQueue;
let queue: Queue;
let writer: Writer | undefined;
const redis = () => createRedis(env.config.REDIS_URL);
let connections: ReturnType<typeof redis>[] = [];

const batch = (index: number): IngestBatch => ({
  origin: 'push',
  connectorId: 'kept-01',
  provinceCode: '01',
  records: Array.from({ length: 20 }, (_, record) =>
    dossierRecord({ dossierCode: `01.2026.${String(index * 100 + record).padStart(6, '0')}`, connectorId: 'kept-01' }),
  ),
  deadLetters: [],
});

beforeAll(async () => {
  env = await createTestEnvironment();
  connections = [redis(), redis()];
  queue = new Queue(ingestQueueName('01'), { connection: connections[0]!, prefix: env.config.QUEUE_PREFIX });
  ingest = await openIngestQueue(
    env.config.REDIS_URL,
    env.config.QUEUE_PREFIX,
    new BackgroundErrorReporter(createLogger('silent')),
    env.config.INGEST_KEPT_COMPLETED_BATCHES,
  );
});
afterAll(async () => {
  await writer?.close();
  await ingest?.close();
  await queue?.close();
  for (const connection of connections) connection.disconnect();
  await env?.cleanup();
});

it('keeps only the newest committed batches of a province (INGEST_KEPT_COMPLETED_BATCHES), however many went through', async () => {
  const keptCompletedBatches = env.config.INGEST_KEPT_COMPLETED_BATCHES;
  expect(keptCompletedBatches).toBe(3);
  const batches = 10 * keptCompletedBatches;
  writer = new Writer(env.db, connections[1]!, new FleetMetrics(), createLogger('silent'), {
    prefix: env.config.QUEUE_PREFIX,
  });
  writer.start();
  // One at a time and waited for, as a poller hands them over: each commit is a completion of its own.
  for (let index = 1; index <= batches; index++) await ingest.addAndWait(batch(index), 60_000);

  const stored = await env.db.selectFrom('dossiers').select('dossier_code').execute();
  expect(stored).toHaveLength(batches * 20);
  await waitFor(async () => (await queue.getJobCounts('active')).active === 0, 'the writer idle');
  const counts = await queue.getJobCounts('completed', 'waiting', 'active', 'failed');
  expect(counts).toMatchObject({ completed: keptCompletedBatches, waiting: 0, active: 0, failed: 0 });
  // No job's hash outlives its place among the kept: the records of the others are gone from Redis.
  const jobKeys = await connections[0]!.keys(`${env.config.QUEUE_PREFIX}:${ingestQueueName('01')}:[0-9]*`);
  expect(jobKeys.filter((key) => /:\d+$/.test(key))).toHaveLength(keptCompletedBatches);
});
