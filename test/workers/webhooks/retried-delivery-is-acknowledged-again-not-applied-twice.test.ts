import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { deleteKeys, createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import {
  deliver,
  nationalUpdate,
  newWebhookId,
  registerWebhookConnector,
  signed,
  testSecretsKey,
  writerCaughtUp,
} from './webhook-client.js';

// Standard Webhooks senders retry until they get a 2xx, re-signing each attempt with the same webhook-id. A
// retry is acknowledged with the first attempt's answer and applied once; copies racing each other (in one
// gateway or in two) enqueue once; and if the ledger is lost, applying a delivery again changes nothing.

const secretsKey = testSecretsKey();
let env: TestEnvironment;
let gatewayA: Fleet;
let gatewayB: Fleet;
let secret: string;
const connector = 'retry-01';

/**
 * Waits for the writer to commit all the gateways took; returns how many records and dead letters it committed in all.
 */
const committed = async () => (await writerCaughtUp(gatewayA.metrics, [gatewayA.metrics, gatewayB.metrics])).committed;
const events = async (code: string) =>
  Number(
    (await sql<{ n: string }>`SELECT count(*) AS n FROM dossier_events WHERE dossier_code = ${code}`.execute(env.db))
      .rows[0]!.n,
  );
const row = (code: string) =>
  env.db
    .selectFrom('dossiers')
    .select(['status', 'source_version'])
    .where('dossier_code', '=', code)
    .executeTakeFirst();

beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: secretsKey });
  secret = await registerWebhookConnector(env.db, secretsKey, connector);
  await registerWebhookConnector(env.db, secretsKey, 'retry-02');
  gatewayA = await startFleet(env.config, ['gateway', 'writer'], createLogger('silent'));
  gatewayB = await startFleet(env.config, ['gateway'], createLogger('silent'));
});
afterAll(async () => {
  await gatewayB?.stop();
  await gatewayA?.stop();
  await env?.cleanup();
});

it('acknowledges a re-signed retry with the same answer, without applying it again', async () => {
  const id = newWebhookId();
  const body = [nationalUpdate('R1', { PhienBan: 1 }), nationalUpdate('R1-bad', { TrangThaiHoSo: '42' })];
  const before = await committed();
  const first = await deliver(gatewayA.url, connector, signed(secret, body, { id }));
  expect(first.status).toBe(202);
  expect(first.body).toMatchObject({ webhookId: id, accepted: 1, rejected: 1 });
  expect(first.headers.get('idempotent-replayed')).toBeNull();

  // The sender did not see the 202 and tries again a little later, signed anew, to either gateway.
  for (const url of [gatewayA.url, gatewayB.url, gatewayA.url]) {
    const retry = await deliver(url, connector, signed(secret, body, { id, at: new Date(Date.now() + 1_000) }));
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
  }
  // The update and the dead letter reached the writer once.
  expect((await committed()) - before).toBe(2);
  expect(await row('R1')).toEqual({ status: 4, source_version: '1' });
  expect(await events('R1')).toBe(1);
  expect(
    Number(
      (await sql<{ n: string }>`SELECT count(*) AS n FROM dead_letters WHERE dossier_code = 'R1-bad'`.execute(env.db))
        .rows[0]!.n,
    ),
  ).toBe(1);
});

it('answers a retried 422 with the same 422, keeping its dead letter once', async () => {
  const id = newWebhookId();
  const body = nationalUpdate('R2', { NgayHenTra: '99/99/9999' });
  const first = await deliver(gatewayA.url, connector, signed(secret, body, { id }));
  expect(first.status).toBe(422);
  expect(first.body.code).toBe('all_records_invalid');
  const retry = await deliver(gatewayB.url, connector, signed(secret, body, { id }));
  expect({ status: retry.status, body: retry.body }).toEqual({ status: first.status, body: first.body });
  await committed();
  expect(
    Number(
      (await sql<{ n: string }>`SELECT count(*) AS n FROM dead_letters WHERE dossier_code = 'R2'`.execute(env.db))
        .rows[0]!.n,
    ),
  ).toBe(1);
});

it('enqueues once when 30 copies of a delivery arrive at once at two gateways', async () => {
  const id = newWebhookId();
  const delivery = signed(secret, nationalUpdate('R3', { PhienBan: 5, TrangThaiHoSo: '9' }), { id });
  const before = await committed();
  const answers = await Promise.all(
    Array.from({ length: 30 }, (_, i) => deliver(i % 2 === 0 ? gatewayA.url : gatewayB.url, connector, delivery)),
  );
  expect(answers.map((answer) => answer.status)).toEqual(Array(30).fill(202));
  for (const answer of answers) expect(answer.body).toEqual({ webhookId: id, accepted: 1, rejected: 0 });
  expect(answers.filter((answer) => answer.headers.get('idempotent-replayed') === null)).toHaveLength(1);
  expect((await committed()) - before).toBe(1);
  expect(await row('R3')).toEqual({ status: 9, source_version: '5' });
  expect(await events('R3')).toBe(1);
});

it('treats the same webhook-id of another connector as another delivery', async () => {
  const id = newWebhookId();
  const other = await registerWebhookConnector(env.db, secretsKey, 'retry-03');
  const a = await deliver(gatewayA.url, connector, signed(secret, nationalUpdate('R4'), { id }));
  const b = await deliver(gatewayA.url, 'retry-03', signed(other, nationalUpdate('R4b'), { id }));
  expect([a.status, b.status, b.headers.get('idempotent-replayed')]).toEqual([202, 202, null]);
  await committed();
  expect(await row('R4b')).toBeDefined();
});

it('applies a delivery again harmlessly when Redis lost the ledger: no second history row', async () => {
  const id = newWebhookId();
  const body = nationalUpdate('R5', { PhienBan: 3, TrangThaiHoSo: '5' });
  expect((await deliver(gatewayA.url, connector, signed(secret, body, { id }))).status).toBe(202);
  await committed();
  // The ledger of the connector (its hash tag), and any key of the previous form.
  await deleteKeys(env.config.REDIS_URL, `${env.config.QUEUE_PREFIX}:{webhooks:${connector}}`);
  await deleteKeys(env.config.REDIS_URL, `${env.config.QUEUE_PREFIX}:{webhooks}`);

  const before = await committed();
  const again = await deliver(gatewayB.url, connector, signed(secret, body, { id }));
  expect(again.status).toBe(202);
  expect(again.headers.get('idempotent-replayed')).toBeNull();
  expect((await committed()) - before).toBe(1); // it was applied again…
  expect(await row('R5')).toEqual({ status: 5, source_version: '3' });
  expect(await events('R5')).toBe(1); // …and changed nothing.
});

it('never moves a dossier back: an older update pushed late is a no-op, and its state joins the history once', async () => {
  expect(
    (await deliver(gatewayA.url, connector, signed(secret, nationalUpdate('R6', { PhienBan: 7, TrangThaiHoSo: '10' }))))
      .status,
  ).toBe(202);
  await committed();
  expect(
    (await deliver(gatewayB.url, connector, signed(secret, nationalUpdate('R6', { PhienBan: 6, TrangThaiHoSo: '9' }))))
      .status,
  ).toBe(202);
  expect(
    (await deliver(gatewayA.url, connector, signed(secret, nationalUpdate('R6', { PhienBan: 6, TrangThaiHoSo: '9' }))))
      .status,
  ).toBe(202);
  await committed();
  expect(await row('R6')).toEqual({ status: 10, source_version: '7' });
  expect(await events('R6')).toBe(2);
});
