import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { startHttpServer } from '../../../workers/http/http-server.js';
import { createLogger } from '../../../workers/logger.js';
import { FleetMetrics } from '../../../workers/metrics.js';
import type { IngestBatch } from '../../../workers/queue/queues.js';
import { createRedis, type RedisConnection } from '../../../workers/redis.js';
import type { AcknowledgingQueue } from '../../../workers/webhooks/webhook-batcher.js';
import { DeliveryLedger } from '../../../workers/webhooks/delivery-ledger.js';
import { SecretBox } from '../../../workers/webhooks/secret-box.js';
import { QueueUnavailableError, WebhookBatcher } from '../../../workers/webhooks/webhook-batcher.js';
import { WebhookIntake } from '../../../workers/webhooks/webhook-intake.js';
import { WebhookReceivers } from '../../../workers/webhooks/webhook-receivers.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import {
  deliver,
  nationalUpdate,
  newWebhookId,
  registerWebhookConnector,
  signed,
  testSecretsKey,
} from './webhook-client.js';

// The batcher turns many small deliveries into few queue jobs (by count, by a short window, per connector) and
// resolves a delivery only once Redis has acknowledged the job holding it; if Redis does not, every delivery
// of that job fails and nothing of it is acknowledged. Its sink here is a BullMQ queue of the test's own on the
// real Redis (in the fleet, IngestQueue.add: the same promise, resolved when Redis acknowledged the job).

const secretsKey = testSecretsKey();
let env: TestEnvironment;
const connections: RedisConnection[] = [];
let queue: Queue<IngestBatch>;
let sink: AcknowledgingQueue;

const open = () => {
  const connection = createRedis(env.config.REDIS_URL);
  connections.push(connection);
  return connection;
};
const records = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => dossierRecord({ dossierCode: `${prefix}-${i}` }));
const waitingBatches = async () => (await queue.getJobs(['waiting'])).map((job) => job.data);

/** A queue on a Redis that is not there: nothing it is given is ever acknowledged. */
function deadSink(): AcknowledgingQueue {
  const connection = new Redis('redis://127.0.0.1:1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  connection.on('error', () => {});
  connections.push(connection);
  const dead = new Queue<IngestBatch>('{dead}', { connection, prefix: 'dead' });
  dead.on('error', () => {});
  return { add: (batch) => dead.add('batch', batch) };
}

beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: secretsKey });
  queue = new Queue<IngestBatch>('{webhook-batches}', { connection: open(), prefix: env.config.QUEUE_PREFIX });
  sink = { add: (batch) => queue.add('batch', batch) };
});
afterAll(async () => {
  await queue?.close();
  for (const connection of connections) connection.disconnect();
  await env?.cleanup();
});

it('fills batches up to the record limit, splitting a delivery across two, and resolves each once its jobs are in Redis', async () => {
  await queue.obliterate({ force: true });
  const batcher = new WebhookBatcher(sink, { maxRecords: 500, maxWaitMs: 60_000, ackTimeoutMs: 10_000 });
  const resolvedWith: number[] = [];
  const deliveries = [records('a', 200), records('b', 200), records('c', 200), records('d', 400)].map((batch) =>
    batcher.submit('conn-a', '01', batch, []).then(async () => resolvedWith.push((await waitingBatches()).length)),
  );
  await Promise.all(deliveries);
  const batches = await waitingBatches();
  expect(batches.map((batch) => batch.records.length).sort()).toEqual([500, 500]);
  // A delivery resolved only when every job holding its records was already in Redis.
  expect(resolvedWith.every((count) => count >= 1)).toBe(true);
  expect(Math.max(...resolvedWith)).toBe(2);
  const codes = batches.flatMap((batch) => batch.records.map((record) => record.dossierCode)).sort();
  expect(codes).toEqual(
    [...records('a', 200), ...records('b', 200), ...records('c', 200), ...records('d', 400)]
      .map((record) => record.dossierCode)
      .sort(),
  );
  for (const batch of batches) {
    expect(batch.origin).toBe('push');
    expect(batch.cursor).toBeUndefined();
    expect(batch).toMatchObject({ connectorId: 'conn-a', provinceCode: '01' });
  }
});

it('groups deliveries arriving together into one job per connector, with their dead letters', async () => {
  await queue.obliterate({ force: true });
  const batcher = new WebhookBatcher(sink, { maxRecords: 1000, maxWaitMs: 20, ackTimeoutMs: 10_000 });
  const letter = {
    connectorId: 'conn-a',
    provinceCode: '01',
    dossierCode: 'x',
    reason: 'bad_date' as const,
    message: 'm',
    rawPayload: {},
    receivedAt: new Date().toISOString(),
  };
  await Promise.all([
    ...Array.from({ length: 5 }, (_, i) => batcher.submit('conn-a', '01', records(`single-${i}`, 1), [])),
    batcher.submit('conn-a', '01', [], [letter]),
    batcher.submit('conn-b', '79', records('other', 2), []),
  ]);
  const batches = await waitingBatches();
  expect(batches.map((batch) => [batch.connectorId, batch.records.length, batch.deadLetters.length]).sort()).toEqual([
    ['conn-a', 5, 1],
    ['conn-b', 2, 0],
  ]);
});

it('hands pending deliveries over on close, and refuses new ones', async () => {
  await queue.obliterate({ force: true });
  const batcher = new WebhookBatcher(sink, { maxRecords: 1000, maxWaitMs: 60_000, ackTimeoutMs: 10_000 });
  const pending = batcher.submit('conn-a', '01', records('late', 3), []);
  await batcher.close();
  await pending;
  expect((await waitingBatches()).map((batch) => batch.records.length)).toEqual([3]);
  await expect(batcher.submit('conn-a', '01', records('later', 1), [])).rejects.toBeInstanceOf(QueueUnavailableError);
});

it('fails every delivery of a batch Redis did not acknowledge', async () => {
  const batcher = new WebhookBatcher(deadSink(), { maxRecords: 1000, maxWaitMs: 5, ackTimeoutMs: 500 });
  const outcomes = await Promise.allSettled([
    batcher.submit('conn-a', '01', records('x', 1), []),
    batcher.submit('conn-a', '01', records('y', 2), []),
  ]);
  expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
  for (const outcome of outcomes)
    expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(QueueUnavailableError);
});

it('answers 503 queue_unavailable over HTTP when the queue does not acknowledge, and a retry is then processed afresh', async () => {
  const secret = await registerWebhookConnector(env.db, secretsKey, 'batch-01');
  const ledgerRedis = open();
  const build = (target: AcknowledgingQueue) =>
    new WebhookIntake({
      receivers: new WebhookReceivers(env.db, new SecretBox(secretsKey)),
      ledger: new DeliveryLedger(ledgerRedis, {
        prefix: env.config.QUEUE_PREFIX,
        ttlSeconds: 600,
        claimTtlMs: 30_000,
        waitMs: 2_000,
      }),
      batcher: new WebhookBatcher(target, { maxRecords: 500, maxWaitMs: 5, ackTimeoutMs: 500 }),
      metrics: new FleetMetrics(),
      logger: createLogger('silent'),
    });
  const servers: FastifyInstance[] = [];
  const serve = async (intake: WebhookIntake) => {
    const { server, url } = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      metrics: new FleetMetrics(),
      readiness: [],
      errors: new BackgroundErrorReporter(createLogger('silent')),
      webhooks: { intake, bodyLimit: 1_048_576 },
    });
    servers.push(server);
    return url;
  };
  try {
    const broken = await serve(build(deadSink()));
    const working = await serve(build(sink));
    await queue.obliterate({ force: true });
    const id = newWebhookId();
    const body = [nationalUpdate('Q1'), nationalUpdate('Q2')];
    const refused = await Promise.all([
      deliver(broken, 'batch-01', signed(secret, body, { id })),
      deliver(broken, 'batch-01', signed(secret, nationalUpdate('Q3'))),
    ]);
    for (const answer of refused) {
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({ code: 'queue_unavailable', status: 503 });
      expect(answer.headers.get('retry-after')).not.toBeNull();
    }
    const retry = await deliver(working, 'batch-01', signed(secret, body, { id }));
    expect(retry.status).toBe(202);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect((await waitingBatches()).flatMap((batch) => batch.records.map((record) => record.dossierCode))).toEqual([
      'Q1',
      'Q2',
    ]);
  } finally {
    for (const server of servers) await server.close();
  }
});
