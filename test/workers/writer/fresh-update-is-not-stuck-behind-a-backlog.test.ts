import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { DossierStatus } from '../../../connectors/sdk/dossier-status.js';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { IngestQueue } from '../../../workers/queue/ingest-queue.js';
import { createLogger } from '../../../workers/logger.js';
import { FleetMetrics } from '../../../workers/metrics.js';
import { createRedis } from '../../../workers/redis.js';
import { Writer } from '../../../workers/writer/writer.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// With one group of a province at a time (1) or two side by side (2, the fleet's WRITER_PROVINCE_CONCURRENCY): a
// backlog takes at most the places it is given in the line, and another province's update waits one round at most.
describe.each([1, 2])('%i group(s) of one province at once', (provinceConcurrency) => {
  const backlogBatches = 500;
  const batchSize = 1000;
  let env: TestEnvironment;
  let ingest: IngestQueue;
  let writer: Writer;
  const connections: ReturnType<typeof createRedis>[] = [];
  const connect = () => {
    const connection = createRedis(env.config.REDIS_URL);
    connections.push(connection);
    return connection;
  };
  const committed = async (province: string) =>
    Number(
      (await sql<{ n: string }>`SELECT count(*) AS n FROM dossiers WHERE province_code = ${province}`.execute(env.db))
        .rows[0]!.n,
    );

  beforeAll(async () => {
    env = await createTestEnvironment();
    ingest = new IngestQueue(
      connect(),
      env.config.QUEUE_PREFIX,
      connect,
      new BackgroundErrorReporter(createLogger('silent')),
    );
    // Hồ Chí Minh City's backlog: 500,000 records already queued before the writer starts.
    const now = new Date().toISOString();
    for (let b = 0; b < backlogBatches; b++) {
      const records = Array.from({ length: batchSize }, (_, i) =>
        dossierRecord({
          provinceCode: '79',
          sourceProvinceCode: '79',
          dossierCode: `79.2026.${String(b * batchSize + i).padStart(7, '0')}`,
          status: ((i % 10) + 1) as DossierStatus,
          sourceStatus: String((i % 10) + 1),
          observedAt: now,
          connectorId: 'hcm',
        }),
      );
      await ingest.add({ origin: 'poll', connectorId: 'hcm', provinceCode: '79', records, deadLetters: [] });
    }
    writer = new Writer(env.db, connect(), new FleetMetrics(), createLogger('silent'), {
      prefix: env.config.QUEUE_PREFIX,
      concurrency: 2,
      provinceConcurrency,
    });
    writer.start();
  }, 300_000);
  afterAll(async () => {
    // The rest of the backlog is of no interest: remove it rather than wait for it.
    await ingest?.queueOf('79').obliterate({ force: true });
    await writer?.close();
    await ingest?.close();
    for (const connection of connections) connection.disconnect();
    await env?.cleanup();
  }, 180_000);

  it('commits another province\u2019s fresh update while a 500,000-record backlog of one province is still being written', async () => {
    await waitFor(async () => (await committed('79')) >= batchSize, 'the backlog being written');
    await ingest.add({
      origin: 'poll',
      connectorId: 'hanoi',
      provinceCode: '01',
      records: [dossierRecord({ dossierCode: '01.2026.fresh', connectorId: 'hanoi' })],
      deadLetters: [],
    });
    await waitFor(async () => (await committed('01')) === 1, 'the fresh update of province 01 committed');
    // Fairness is an order, not a speed: the fresh update did not wait behind the backlog.
    expect(await committed('79')).toBeLessThan((backlogBatches * batchSize) / 2);
  });
});
