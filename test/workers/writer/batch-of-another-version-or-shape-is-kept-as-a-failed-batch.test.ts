import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { ingestBatchVersion, ingestMessageOf, type IngestBatch } from '../../../workers/queue/ingest-message.js';
import { openIngestQueue, type IngestQueue } from '../../../workers/queue/ingest-queue.js';
import { ingestQueueName } from '../../../workers/queue/queues.js';
import { createRedis } from '../../../workers/redis.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// Issue #10: messages on the queue have a schema and a version. A rolling deploy that changes a batch's shape
// must fail loudly — the writer refuses a job it cannot read, before any database work, and the failed-batch
// sweep keeps it with the reason — never write what it misreads.

let env: TestEnvironment;
let fleet: Fleet;
let ingest: IngestQueue;
/** A producer of another release: it queues job data as it likes, past IngestQueue. */
let producer: Queue;
const connection = () => createRedis(env.config.REDIS_URL);
let redis: ReturnType<typeof connection>;

const batch = (dossierCode: string): IngestBatch => ({
  origin: 'push',
  connectorId: 'other-release',
  provinceCode: '01',
  records: [dossierRecord({ dossierCode, connectorId: 'other-release', observedAt: new Date().toISOString() })],
  deadLetters: [],
});
const rows = () =>
  env.db
    .selectFrom('failed_batches')
    .select(['connector_id', 'records', 'error', 'attempts', 'batch'])
    .orderBy('id')
    .execute();
const stored = (codes: string[]) =>
  env.db.selectFrom('dossiers').select('dossier_code').where('dossier_code', 'in', codes).execute();

beforeAll(async () => {
  env = await createTestEnvironment();
  redis = connection();
  producer = new Queue(ingestQueueName('01'), { connection: redis, prefix: env.config.QUEUE_PREFIX });
  ingest = await openIngestQueue(
    env.config.REDIS_URL,
    env.config.QUEUE_PREFIX,
    new BackgroundErrorReporter(createLogger('silent')),
  );
  fleet = await startFleet(env.config, ['writer'], createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  await ingest?.close();
  await producer?.close();
  redis?.disconnect();
  await env?.cleanup();
});

it('stamps the version on every batch it queues', async () => {
  const job = await ingest.add(batch('01.2026.stamped'));
  expect(job.data.version).toBe(ingestBatchVersion);
  await waitFor(async () => (await stored(['01.2026.stamped'])).length === 1, 'the stamped batch written');
});

it('keeps a batch of a future version as a failed batch naming the versions, and writes nothing of it', async () => {
  await producer.add('batch', { ...ingestMessageOf(batch('01.2026.future')), version: ingestBatchVersion + 1 });
  await waitFor(async () => (await rows()).length === 1, 'the future batch kept in failed_batches', 60_000);
  const [kept] = await rows();
  expect(kept).toMatchObject({ connector_id: 'other-release', records: 1, attempts: 1 });
  expect(kept!.error).toMatch(
    new RegExp(
      `^ingest job batch of version ${ingestBatchVersion + 1}: this writer reads version ${ingestBatchVersion} only`,
    ),
  );
  // Kept as it was queued, version included: a retry hands it on as a batch of its own release.
  expect(JSON.parse(kept!.batch)).toMatchObject({
    version: ingestBatchVersion + 1,
    records: [{ dossierCode: '01.2026.future' }],
  });
  expect(await stored(['01.2026.future'])).toEqual([]);
});

it('keeps a batch whose shape does not parse as a failed batch naming the path and expectation, never the value', async () => {
  const good = batch('01.2026.wrong-shape');
  const wrong = { ...ingestMessageOf(good), records: [{ ...good.records[0]!, sourceVersion: 'Nguyễn Văn An' }] };
  await producer.add('batch', wrong);
  await waitFor(async () => (await rows()).length === 2, 'the wrong-shaped batch kept in failed_batches', 60_000);
  const kept = (await rows())[1]!;
  expect(kept).toMatchObject({ connector_id: 'other-release', records: 1, attempts: 1 });
  expect(kept.error).toMatch(
    new RegExp(
      `^ingest job batch version ${ingestBatchVersion} does not match its schema: records\\.0\\.sourceVersion: .*expected number`,
    ),
  );
  expect(kept.error).not.toContain('Nguyễn');
  expect(await stored(['01.2026.wrong-shape'])).toEqual([]);
  await waitFor(async () => (await producer.getFailedCount()) === 0, 'the failed set emptied', 30_000);
});

it('still writes a valid batch, and one queued before batches carried a version', async () => {
  expect(await ingest.addAndWait(batch('01.2026.valid'), 60_000)).toMatchObject({ inserted: 1 });
  const { version: _version, ...unversioned } = ingestMessageOf(batch('01.2026.unversioned'));
  await producer.add('batch', unversioned);
  await waitFor(async () => (await stored(['01.2026.unversioned'])).length === 1, 'the unversioned batch written');
  expect(await rows()).toHaveLength(2);
});
