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

// Group commit: batches waiting in one province's queue are committed together, in one transaction; a batch the
// writer cannot read, taken into a group, fails alone (kept as a failed batch) and the others commit.

let env: TestEnvironment;
let ingest: IngestQueue;
let producer: Queue;
let writer: Writer | undefined;
const redis = () => createRedis(env.config.REDIS_URL);
let connections: ReturnType<typeof redis>[] = [];

const batch = (index: number): IngestBatch => ({
  origin: 'push',
  connectorId: 'group-01',
  provinceCode: '01',
  records: Array.from({ length: 10 }, (_, record) =>
    dossierRecord({ dossierCode: `01.2026.${String(index * 100 + record).padStart(6, '0')}`, connectorId: 'group-01' }),
  ),
  deadLetters: [],
});

beforeAll(async () => {
  env = await createTestEnvironment();
  connections = [redis(), redis()];
  producer = new Queue(ingestQueueName('01'), { connection: connections[0]!, prefix: env.config.QUEUE_PREFIX });
  ingest = await openIngestQueue(
    env.config.REDIS_URL,
    env.config.QUEUE_PREFIX,
    new BackgroundErrorReporter(createLogger('silent')),
    // Every batch of the test kept once committed, to look at.
    100,
  );
});
afterAll(async () => {
  await writer?.close();
  await ingest?.close();
  await producer?.close();
  for (const connection of connections) connection.disconnect();
  await env?.cleanup();
});

it('commits six waiting batches in fewer transactions than batches, and keeps the unreadable one apart', async () => {
  const jobs: Awaited<ReturnType<IngestQueue['add']>>[] = [];
  for (let index = 1; index <= 3; index++) jobs.push(await ingest.add(batch(index)));
  // A producer of another release, between the good batches.
  const unreadable = await producer.add('batch', { version: 99, records: [] }, { attempts: 1 });
  for (let index = 4; index <= 6; index++) jobs.push(await ingest.add(batch(index)));

  const metrics = new FleetMetrics();
  writer = new Writer(env.db, connections[1]!, metrics, createLogger('silent'), {
    prefix: env.config.QUEUE_PREFIX,
    maxGroupBatches: 8,
  });
  writer.start();

  await waitFor(
    async () => (await Promise.all(jobs.map((job) => job.getState()))).every((state) => state === 'completed'),
    'every readable batch completed',
  );
  await waitFor(async () => (await unreadable.getState()) === 'failed', 'the unreadable batch failed');
  const stored = await env.db.selectFrom('dossiers').select('dossier_code').execute();
  expect(stored).toHaveLength(60);
  const transactions = (await metrics.writeBatchDuration.get()).values.find((value) =>
    value.metricName?.endsWith('_count'),
  )!.value;
  // The six were waiting together when the writer started: they are not committed one transaction each.
  expect(transactions).toBeLessThan(6);
  const written = (await metrics.recordsWritten.get()).values
    .filter((value) => value.labels.outcome === 'inserted')
    .reduce((sum, value) => sum + value.value, 0);
  expect(written).toBe(60);
});
