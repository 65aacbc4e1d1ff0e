import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { createRedis, type RedisConnection } from '../../../workers/redis.js';
import { bodyHashOf, DeliveryLedger } from '../../../workers/webhooks/delivery-ledger.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import {
  deliver,
  nationalUpdate,
  newWebhookId,
  registerWebhookConnector,
  signed,
  testSecretsKey,
  type Delivery,
} from './webhook-client.js';

// The gateway of the previous version kept the HTTP answer it sent in the idempotency ledger; this one keeps
// the delivery's outcome. A retry that reaches an upgraded gateway still gets the answer the first attempt got,
// byte for byte, and is not applied again.

const secretsKey = testSecretsKey();
const connector = 'upgrade-01';
let env: TestEnvironment;
let fleet: Fleet;
let redis: RedisConnection;
let secret: string;

beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: secretsKey });
  secret = await registerWebhookConnector(env.db, secretsKey, connector);
  fleet = await startFleet(env.config, ['gateway'], createLogger('silent'));
  redis = createRedis(env.config.REDIS_URL);
});
afterAll(async () => {
  redis?.disconnect();
  await fleet?.stop();
  await env?.cleanup();
});

/** Records an answer for a delivery as the gateway of the previous version did: the status and the HTTP body. */
async function recordAsBefore(
  id: string,
  delivery: Delivery,
  status: number,
  body: Record<string, unknown>,
): Promise<void> {
  const ledger = new DeliveryLedger(redis, {
    prefix: env.config.QUEUE_PREFIX,
    ttlSeconds: 600,
    claimTtlMs: 30_000,
    waitMs: 1_000,
  });
  const bodyHash = bodyHashOf(Buffer.from(delivery.body as string));
  await redis.set(ledger.keyOf(connector, id), JSON.stringify({ bodyHash, status, body }), 'EX', 600);
}

const stored = async (code: string) =>
  (await env.db.selectFrom('dossiers').select('dossier_code').where('dossier_code', '=', code).executeTakeFirst()) !==
  undefined;

it('replays a 202 recorded before the upgrade with the same counts and errors, and applies nothing', async () => {
  const id = newWebhookId();
  const delivery = signed(secret, [nationalUpdate('U1'), nationalUpdate('U1-bad', { TrangThaiHoSo: '42' })], { id });
  const before = {
    webhookId: id,
    accepted: 1,
    rejected: 1,
    errors: [
      '$[1] (dossier U1-bad): unknown_status: TrangThaiHoSo: "42" is not a national status code; expected 1 to 10',
    ],
  };
  await recordAsBefore(id, delivery, 202, before);

  const answer = await deliver(fleet.url, connector, delivery);
  expect({ status: answer.status, body: answer.body, replayed: answer.headers.get('idempotent-replayed') }).toEqual({
    status: 202,
    body: before,
    replayed: 'true',
  });
  expect(await stored('U1')).toBe(false);
});

it('replays a 422 all_records_invalid recorded before the upgrade as the same problem', async () => {
  const id = newWebhookId();
  const delivery = signed(secret, nationalUpdate('U2', { NgayHenTra: '99/99/9999' }), { id });
  const before = {
    type: 'urn:dossier-sync:problem:all_records_invalid',
    title: 'Unprocessable Entity',
    status: 422,
    detail:
      'the update is invalid, so nothing was applied; each is kept as a dead letter with its reason (listed in errors): fix them at the source and send them again',
    code: 'all_records_invalid',
    errors: ['$ (dossier U2): bad_date: NgayHenTra: expected a valid date'],
    instance: `/v1/webhooks/${connector}`,
  };
  await recordAsBefore(id, delivery, 422, before);

  const answer = await deliver(fleet.url, connector, delivery);
  expect({
    status: answer.status,
    type: answer.type,
    body: answer.body,
    replayed: answer.headers.get('idempotent-replayed'),
  }).toEqual({
    status: 422,
    type: 'application/problem+json; charset=utf-8',
    body: before,
    replayed: 'true',
  });
});

it('answers the same bytes to a retry of a delivery first answered after the upgrade', async () => {
  const id = newWebhookId();
  const delivery = signed(secret, nationalUpdate('U3', { NgayHenTra: '99/99/9999' }), { id });
  const first = await deliver(fleet.url, connector, delivery);
  expect(first.status).toBe(422);
  const retry = await deliver(fleet.url, connector, delivery);
  expect({ status: retry.status, body: retry.body, replayed: retry.headers.get('idempotent-replayed') }).toEqual({
    status: 422,
    body: first.body,
    replayed: 'true',
  });
});
