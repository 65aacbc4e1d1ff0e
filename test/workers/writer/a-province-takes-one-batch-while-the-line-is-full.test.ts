import { afterAll, beforeAll, expect, it } from 'vitest';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { createLogger } from '../../../workers/logger.js';
import { FleetMetrics } from '../../../workers/metrics.js';
import type { IngestBatch } from '../../../workers/queue/ingest-message.js';
import { openIngestQueue, type IngestQueue } from '../../../workers/queue/ingest-queue.js';
import { createRedis } from '../../../workers/redis.js';
import { Writer } from '../../../workers/writer/writer.js';
import { dossierRecord } from '../../support/records.js';
import { createDatabase } from '../../../db/database.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { holdDossier, writersWaiting } from './held-dossier.js';

// Bounded memory: a batch taken off a queue is held in the writer until its commit. A province may take a second
// batch beside its first (provinceConcurrency) only while the line has a free place; once commits wait for a place,
// every province takes one at a time, so that 34 busy provinces hold 34 waiting batches, not 68.

let env: TestEnvironment;
let ingest: IngestQueue;
let writer: Writer | undefined;
// The held dossiers' transactions and the test's own reads, apart from the writer's connections.
let testDb: ReturnType<typeof createDatabase>;
let connection: ReturnType<typeof createRedis>;

const batch = (province: string, index: number, version: number): IngestBatch => ({
  origin: 'push',
  connectorId: `line-${province}`,
  provinceCode: province,
  records: [
    // The province's held dossier: its groups wait in their transactions until the test lets them go.
    dossierRecord({
      provinceCode: province,
      sourceProvinceCode: province,
      dossierCode: `${province}.2026.held`,
      sourceVersion: version,
      connectorId: `line-${province}`,
    }),
    dossierRecord({
      provinceCode: province,
      sourceProvinceCode: province,
      dossierCode: `${province}.2026.${String(index).padStart(6, '0')}`,
      connectorId: `line-${province}`,
    }),
  ],
  deadLetters: [],
});

beforeAll(async () => {
  env = await createTestEnvironment();
  connection = createRedis(env.config.REDIS_URL);
  testDb = createDatabase(env.config.DATABASE_URL, { maxConnections: 3 });
  ingest = await openIngestQueue(
    env.config.REDIS_URL,
    env.config.QUEUE_PREFIX,
    new BackgroundErrorReporter(createLogger('silent')),
    100,
  );
});
afterAll(async () => {
  await writer?.close();
  await ingest?.close();
  connection?.disconnect();
  await testDb?.destroy();
  await env?.cleanup();
});

it('takes no second batch of a province while its first waits for a place in the line', async () => {
  const holders = [await holdDossier(testDb, '01', '01.2026.held'), await holdDossier(testDb, '48', '48.2026.held')];
  writer = new Writer(env.db, connection, new FleetMetrics(), createLogger('silent'), {
    prefix: env.config.QUEUE_PREFIX,
    concurrency: 2,
    provinceConcurrency: 2,
  });
  writer.start();
  try {
    // Province 01 fills both places of the line, one group after the other.
    const first = await ingest.add(batch('01', 1, 2));
    await waitFor(async () => (await writersWaiting(testDb)) === 1, 'the first group of 01 in its transaction');
    const second = await ingest.add(batch('01', 2, 3));
    await waitFor(async () => (await writersWaiting(testDb)) === 2, 'the second group of 01 beside it');
    // Province 48's batch is taken and waits for a place: the line is full now.
    const waitingForPlace = await ingest.add(batch('48', 1, 2));
    await waitFor(async () => (await waitingForPlace.getState()) === 'active', '48’s first batch taken');
    const next = await ingest.add(batch('48', 2, 3));
    // Given time to be taken, were a second place open to 48; it stays in Redis, not in the writer.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await next.getState()).toBe('waiting');

    for (const holder of holders) holder.release();
    await Promise.all(holders.map((holder) => holder.done));
    await waitFor(
      async () =>
        (await Promise.all([first, second, waitingForPlace, next].map((job) => job.getState()))).every(
          (state) => state === 'completed',
        ),
      'every batch committed once the line frees',
    );
  } finally {
    for (const holder of holders) holder.release();
  }
  const stored = await env.db.selectFrom('dossiers').select(['dossier_code', 'source_version']).execute();
  expect(stored).toHaveLength(6);
  expect(stored.filter((row) => row.dossier_code.endsWith('.held')).map((row) => row.source_version)).toEqual([
    '3',
    '3',
  ]);
});
