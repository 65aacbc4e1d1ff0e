import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { createLogger } from '../../../workers/logger.js';
import { FleetMetrics } from '../../../workers/metrics.js';
import type { IngestBatch } from '../../../workers/queue/ingest-message.js';
import { openIngestQueue, type IngestQueue } from '../../../workers/queue/ingest-queue.js';
import { createRedis } from '../../../workers/redis.js';
import { Writer } from '../../../workers/writer/writer.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// Bounded memory: a poller keeps several pages of each connector handed to the writer and not yet committed. Once
// Redis has a batch, its records are Redis's to keep: the wait for the commit must not hold them in the process too
// (a 34-connector poller's heap held 147,000 records so, four pages of each connector).

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

let env: TestEnvironment;
let ingest: IngestQueue;
let writer: Writer | undefined;
const connection = () => createRedis(env.config.REDIS_URL);
let writerConnection: ReturnType<typeof connection> | undefined;

beforeAll(async () => {
  env = await createTestEnvironment();
  ingest = await openIngestQueue(
    env.config.REDIS_URL,
    env.config.QUEUE_PREFIX,
    new BackgroundErrorReporter(createLogger('silent')),
    env.config.INGEST_KEPT_COMPLETED_BATCHES,
  );
});
afterAll(async () => {
  await writer?.close();
  writerConnection?.disconnect();
  await ingest?.close();
  await env?.cleanup();
});

/** Hands a batch over (no writer runs yet) and returns its wait and a weak reference to its records alone. */
function handOver(): { committed: Promise<unknown>; records: WeakRef<object> } {
  const batch: IngestBatch = {
    origin: 'poll',
    connectorId: 'held-01',
    provinceCode: '01',
    records: Array.from({ length: 50 }, (_, index) =>
      dossierRecord({ dossierCode: `01.2026.${String(index).padStart(6, '0')}`, connectorId: 'held-01' }),
    ),
    deadLetters: [],
  };
  return { committed: ingest.addAndWait(batch, 60_000), records: new WeakRef(batch.records) };
}

it('lets the records of a batch be collected while the batch waits for its commit, then commits them all', async () => {
  const { committed, records } = handOver();
  // Redis has the batch once it is waiting in the queue; no writer takes it yet, so its wait is still pending.
  const jobs = async () => (await ingest.jobCounts()).waiting ?? 0;
  for (let tries = 0; (await jobs()) === 0 && tries < 200; tries++) await new Promise((done) => setTimeout(done, 25));
  expect(await jobs()).toBe(1);
  // A weak reference lives at least to the end of the task that made it: collect in later tasks.
  for (let round = 0; round < 3 && records.deref() !== undefined; round++) {
    await new Promise((done) => setImmediate(done));
    collectGarbage();
  }
  expect(records.deref()).toBeUndefined();

  writerConnection = connection();
  writer = new Writer(env.db, writerConnection, new FleetMetrics(), createLogger('silent'), {
    prefix: env.config.QUEUE_PREFIX,
  });
  writer.start();
  await committed;
  const stored = await env.db
    .selectFrom('dossiers')
    .select('dossier_code')
    .where('connector_id', '=', 'held-01')
    .execute();
  expect(stored).toHaveLength(50);
}, 60_000);
