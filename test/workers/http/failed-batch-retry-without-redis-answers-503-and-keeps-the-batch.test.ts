import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { keepFailedBatch } from '../../../db/queries/insert-failed-batch.js';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { adminApi } from '../../../workers/http/admin/admin-api.js';
import { registerOpenApi } from '../../../workers/http/openapi.js';
import { createLogger } from '../../../workers/logger.js';
import { IngestQueue } from '../../../workers/queue/ingest-queue.js';
import { createRedis } from '../../../workers/redis.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// A retry hands a batch to Redis and marks it retried only once Redis has acknowledged it. With Redis out of reach
// the admin API answers 503 queue_unavailable within its wait, saying so, and the batch stays failed, unrecorded:
// nothing claims a retry that did not happen.

let env: TestEnvironment;
let api: FastifyInstance;
let url: string;
let key: string;
let batchId: string;
/** Nothing listens on port 1: every command waits for a connection that never comes. */
const unreachable = 'redis://127.0.0.1:1';
const connections = [createRedis(unreachable), createRedis(unreachable)];
// Refused connects are this test's point, not a failure of it.
for (const connection of connections) connection.on('error', () => {});
const errors = new BackgroundErrorReporter(createLogger('silent'));
const ingest = new IngestQueue(connections[0]!, 'unreachable', () => connections[1]!, errors);

beforeAll(async () => {
  env = await createTestEnvironment();
  api = Fastify();
  await registerOpenApi(api);
  await api.register(adminApi, { db: env.db, ingest, retryAckTimeoutMs: 500, prefix: '/v1/admin' });
  url = await api.listen({ host: '127.0.0.1', port: 0 });
  ({ key } = await createApiKey(env.db, 'ops', 'admin', { actor: cliActor() }));
  ({ id: batchId } = await keepFailedBatch(env.db, {
    provinceCode: '48',
    batch: {
      origin: 'push',
      connectorId: 'danang',
      provinceCode: '48',
      records: [dossierRecord({ dossierCode: '48.2026.000009', connectorId: 'danang' })],
      deadLetters: [],
    },
    error: 'the test refuses this batch',
    attempts: 3,
    failedAt: new Date('2026-11-20T02:00:00.000Z'),
    job: 'ingest-48:1:1',
  }));
});
afterAll(async () => {
  await api?.close();
  for (const connection of connections) connection.disconnect();
  errors.close();
  await env?.cleanup();
});

it('answers 503 queue_unavailable and leaves the batch failed, with nothing in the audit trail', async () => {
  const response = await fetch(`${url}/v1/admin/failed-batches/retry`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ids: [batchId] }),
  });
  expect(response.status).toBe(503);
  expect(await response.json()).toMatchObject({
    code: 'queue_unavailable',
    detail: `failed batch ${batchId} was not acknowledged by Redis within 500 ms (is Redis reachable?); it stays failed: retry it again later; 0 batches were retried before it`,
  });
  const row = await env.db.selectFrom('failed_batches').select('state').executeTakeFirstOrThrow();
  expect(row.state).toBe('failed');
  const audit = await env.db.selectFrom('audit_events').select('action').execute();
  expect(audit.map(({ action }) => action)).toEqual(['api_key.create']);
});
