import { afterAll, beforeAll, expect, it } from 'vitest';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { createLogger } from '../../../workers/logger.js';
import { FleetMetrics } from '../../../workers/metrics.js';
import type { IngestBatch } from '../../../workers/queue/ingest-message.js';
import { openIngestQueue, type IngestQueue } from '../../../workers/queue/ingest-queue.js';
import { createRedis } from '../../../workers/redis.js';
import { Writer } from '../../../workers/writer/writer.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { holdDossier, writersWaiting } from './held-dossier.js';

// One busy province (a backfill, one connector) must be able to use every place of the writer's line: with
// provinceConcurrency 2 a second group of the same queue is committed beside the first, not after it. Whichever
// commits first, the version guard leaves each dossier at its newest state.

let env: TestEnvironment;
let ingest: IngestQueue;
let writer: Writer | undefined;
let connection: ReturnType<typeof createRedis>;

const batch = (index: number, version: number): IngestBatch => ({
  origin: 'push',
  connectorId: 'busy-01',
  provinceCode: '01',
  records: [
    // Every batch carries the dossier the test holds locked, so its transaction waits where the test can see it.
    dossierRecord({ dossierCode: '01.2026.held', sourceVersion: version, connectorId: 'busy-01' }),
    ...Array.from({ length: 10 }, (_, record) =>
      dossierRecord({
        dossierCode: `01.2026.${String(index * 100 + record).padStart(6, '0')}`,
        connectorId: 'busy-01',
      }),
    ),
  ],
  deadLetters: [],
});

beforeAll(async () => {
  env = await createTestEnvironment();
  connection = createRedis(env.config.REDIS_URL);
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
  await env?.cleanup();
});

it('commits a second group of the same province while the first is still in its transaction', async () => {
  // An uncommitted insert of the dossier both batches carry: each writer transaction waits for it.
  const holder = await holdDossier(env.db, '01', '01.2026.held');

  writer = new Writer(env.db, connection, new FleetMetrics(), createLogger('silent'), {
    prefix: env.config.QUEUE_PREFIX,
    concurrency: 2,
    provinceConcurrency: 2,
  });
  writer.start();
  try {
    const first = await ingest.add(batch(1, 3));
    await waitFor(async () => (await writersWaiting(env.db)) === 1, 'the first group waiting on the held dossier');
    // Added once the first group is taken, so it cannot join that group: only a second place commits it now.
    const second = await ingest.add(batch(2, 2));
    await waitFor(async () => (await writersWaiting(env.db)) === 2, 'the second group waiting beside the first');

    holder.release();
    await holder.done;
    await waitFor(
      async () => (await first.getState()) === 'completed' && (await second.getState()) === 'completed',
      'both groups committed',
    );
  } finally {
    holder.release();
  }
  const stored = await env.db.selectFrom('dossiers').select(['dossier_code', 'source_version']).execute();
  expect(stored).toHaveLength(21);
  expect(stored.find((row) => row.dossier_code === '01.2026.held')?.source_version).toBe('3');
});
