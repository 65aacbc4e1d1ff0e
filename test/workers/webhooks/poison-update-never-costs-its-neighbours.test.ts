import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { ingestQueueName } from '../../../workers/queue/queues.js';
import { createRedis } from '../../../workers/redis.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import {
  deliver,
  nationalUpdate,
  registerWebhookConnector,
  signed,
  testSecretsKey,
  writerCaughtUp,
} from './webhook-client.js';

// Issue #9: a pushed array of one valid update and one whose dossier code holds U+0000 and whose status is
// unknown was answered 202 {accepted: 1, rejected: 1}, then Postgres refused the dead letter's text, the writer
// parked the whole batch in BullMQ's failed set and the valid update was lost after its 202.

const secretsKey = testSecretsKey();
const connector = 'poison-push';
let env: TestEnvironment;
let fleet: Fleet;
let secret: string;
let failedSet: Queue;
const connection = () => createRedis(env.config.REDIS_URL);
let redis: ReturnType<typeof connection>;

beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: secretsKey });
  secret = await registerWebhookConnector(env.db, secretsKey, connector);
  fleet = await startFleet(env.config, ['gateway', 'writer'], createLogger('silent'));
  redis = connection();
  failedSet = new Queue(ingestQueueName('01'), { connection: redis, prefix: env.config.QUEUE_PREFIX });
});
afterAll(async () => {
  await failedSet?.close();
  redis?.disconnect();
  await fleet?.stop();
  await env?.cleanup();
});

it('stores the valid update and keeps the poison one as a readable dead letter; nothing is left failed', async () => {
  const poisonCode = 'P01\u0000-2026';
  const answer = await deliver(
    fleet.url,
    connector,
    signed(secret, [nationalUpdate('P01-valid'), nationalUpdate(poisonCode, { TrangThaiHoSo: '99' })]),
  );
  expect(answer.status).toBe(202);
  expect(answer.body).toMatchObject({ accepted: 1, rejected: 1 });
  // The answer names the dossier readably: the NUL is written out, not sent raw.
  expect(answer.body.errors).toEqual([expect.stringContaining('(dossier P01\\u0000-2026): unknown_status')]);

  await writerCaughtUp(fleet.metrics, [fleet.metrics], 60_000);
  const stored = await env.db.selectFrom('dossiers').select(['dossier_code', 'status']).execute();
  expect(stored).toEqual([{ dossier_code: 'P01-valid', status: 4 }]);

  const letters = await env.db
    .selectFrom('dead_letters')
    .select(['dossier_code', 'reason', 'message', 'raw_payload'])
    .execute();
  expect(letters).toHaveLength(1);
  expect(letters[0]).toMatchObject({ dossier_code: 'P01\\u0000-2026', reason: 'unknown_status' });
  // The raw payload keeps every character as it came: its JSON text writes the NUL as an escape.
  expect(letters[0]!.raw_payload).toContain('"MaHoSo":"P01\\u0000-2026"');
  expect((JSON.parse(letters[0]!.raw_payload) as { MaHoSo: string }).MaHoSo).toBe(poisonCode);

  expect(await failedSet.getFailedCount()).toBe(0);
});
