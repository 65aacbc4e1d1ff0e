import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import {
  nationalUpdate,
  newWebhookId,
  registerWebhookConnector,
  signed,
  testSecretsKey,
  writerCaughtUp,
  type Delivery,
} from './webhook-client.js';

// A webhook-id is the key of one message: a retry of it carries the same bytes and gets the same answer. A
// sender that reuses an id for another message (an id derived from the dossier code, say) must hear so — 409
// webhook_id_reused, nothing applied — instead of a "replayed" 202 that silently drops every later update.

const secretsKey = testSecretsKey();
let env: TestEnvironment;
let gatewayA: Fleet;
let gatewayB: Fleet;
let secret: string;
const connector = 'reuse-01';

/** What a gateway answered, with the body exactly as it came over the wire. */
interface RawAnswer {
  status: number;
  text: string;
  body: Record<string, unknown>;
  replayed: string | null;
  retryAfter: string | null;
}

async function post(baseUrl: string, delivery: Delivery): Promise<RawAnswer> {
  const response = await fetch(`${baseUrl}/v1/webhooks/${connector}`, {
    method: 'POST',
    headers: delivery.headers,
    body: delivery.body,
  });
  const text = await response.text();
  return {
    status: response.status,
    text,
    body: JSON.parse(text) as Record<string, unknown>,
    replayed: response.headers.get('idempotent-replayed'),
    retryAfter: response.headers.get('retry-after'),
  };
}

const committed = async () => (await writerCaughtUp(gatewayA.metrics, [gatewayA.metrics, gatewayB.metrics])).committed;
const row = (code: string) =>
  env.db
    .selectFrom('dossiers')
    .select(['status', 'source_version'])
    .where('dossier_code', '=', code)
    .executeTakeFirst();
const events = async (code: string) =>
  Number(
    (await sql<{ n: string }>`SELECT count(*) AS n FROM dossier_events WHERE dossier_code = ${code}`.execute(env.db))
      .rows[0]!.n,
  );
const letters = async (code: string) =>
  Number(
    (await sql<{ n: string }>`SELECT count(*) AS n FROM dead_letters WHERE dossier_code = ${code}`.execute(env.db))
      .rows[0]!.n,
  );

function expectReused(answer: RawAnswer): void {
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 409, code: 'webhook_id_reused' });
  expect(answer.body.type).toBe('urn:dossier-sync:problem:webhook_id_reused');
  // The detail says what happened and what to do.
  expect(answer.body.detail).toMatch(/not applied/);
  expect(answer.body.detail).toMatch(/unique webhook-id per message/);
  expect(answer.body.detail).toMatch(/UUID/);
  expect(answer.body.detail).toMatch(/dossier code/);
  // Retrying it as is cannot help: no Retry-After, and it is not a replay.
  expect(answer.retryAfter).toBeNull();
  expect(answer.replayed).toBeNull();
}

beforeAll(async () => {
  // Deliveries wait 1 s for others to share their batch: long enough for a second copy to arrive while the
  // first is still being processed.
  env = await createTestEnvironment({ SECRETS_KEY: secretsKey, WEBHOOK_BATCH_WAIT_MS: '1000' });
  secret = await registerWebhookConnector(env.db, secretsKey, connector);
  gatewayA = await startFleet(env.config, ['gateway', 'writer'], createLogger('silent'));
  gatewayB = await startFleet(env.config, ['gateway'], createLogger('silent'));
});
afterAll(async () => {
  await gatewayB?.stop();
  await gatewayA?.stop();
  await env?.cleanup();
});

it('refuses a reused webhook-id with another body (409 webhook_id_reused) at either gateway, and applies only the first message', async () => {
  // A sender deriving ids from the dossier code: the same id for two successive changes of one dossier.
  const id = 'dossier-U1';
  const before = await committed();
  const first = await post(
    gatewayA.url,
    signed(secret, nationalUpdate('U1', { PhienBan: 1, TrangThaiHoSo: '2' }), { id }),
  );
  expect(first.status).toBe(202);
  expect(first.body).toEqual({ webhookId: id, accepted: 1, rejected: 0 });

  for (const url of [gatewayB.url, gatewayA.url]) {
    const later = await post(url, signed(secret, nationalUpdate('U1', { PhienBan: 2, TrangThaiHoSo: '4' }), { id }));
    expectReused(later);
  }
  // A message of another dossier under the same id is refused too: nothing of it reaches the queue.
  expectReused(await post(gatewayB.url, signed(secret, [nationalUpdate('U1-other', { PhienBan: 1 })], { id })));

  expect((await committed()) - before).toBe(1);
  expect(await row('U1')).toEqual({ status: 2, source_version: '1' });
  expect(await row('U1-other')).toBeUndefined();
});

it('answers a retry of the same bytes with its first answer, byte for byte, applied once — before and after a reused-id refusal', async () => {
  const id = newWebhookId();
  const body = JSON.stringify([
    nationalUpdate('U2', { PhienBan: 3, TrangThaiHoSo: '5' }),
    nationalUpdate('U2-bad', { TrangThaiHoSo: '77' }),
  ]);
  const before = await committed();
  const first = await post(gatewayA.url, signed(secret, body, { id }));
  expect(first.status).toBe(202);
  expect(first.body).toMatchObject({ webhookId: id, accepted: 1, rejected: 1 });

  const retry = await post(gatewayB.url, signed(secret, body, { id, at: new Date(Date.now() + 1_000) }));
  expect({ status: retry.status, text: retry.text, replayed: retry.replayed }).toEqual({
    status: 202,
    text: first.text,
    replayed: 'true',
  });

  expectReused(
    await post(gatewayA.url, signed(secret, [nationalUpdate('U2', { PhienBan: 4, TrangThaiHoSo: '9' })], { id })),
  );
  // The same JSON formatted otherwise is other bytes: the signature and the hash are over the raw body.
  expectReused(await post(gatewayB.url, signed(secret, JSON.stringify(JSON.parse(body), null, 2), { id })));

  const again = await post(gatewayB.url, signed(secret, body, { id }));
  expect({ status: again.status, text: again.text, replayed: again.replayed }).toEqual({
    status: 202,
    text: first.text,
    replayed: 'true',
  });

  expect((await committed()) - before).toBe(2);
  expect(await row('U2')).toEqual({ status: 5, source_version: '3' });
  expect(await events('U2')).toBe(1);
  expect(await letters('U2-bad')).toBe(1);
});

it('refuses a reused webhook-id after a 422 as well, and replays the 422 itself byte for byte', async () => {
  const id = newWebhookId();
  const body = JSON.stringify(nationalUpdate('U3', { NgayHenTra: 'soon' }));
  const first = await post(gatewayA.url, signed(secret, body, { id }));
  expect({ status: first.status, code: first.body.code }).toEqual({ status: 422, code: 'all_records_invalid' });
  const retry = await post(gatewayB.url, signed(secret, body, { id }));
  expect({ status: retry.status, text: retry.text }).toEqual({ status: 422, text: first.text });
  expectReused(
    await post(gatewayB.url, signed(secret, nationalUpdate('U3', { NgayHenTra: '20261204170000' }), { id })),
  );
  await committed();
  expect(await row('U3')).toBeUndefined();
  expect(await letters('U3')).toBe(1);
});

it('refuses another body under an id whose first message is still in progress, in another gateway or in the same one', async () => {
  for (const [name, second] of [
    ['another gateway', () => gatewayB.url],
    ['the same gateway', () => gatewayA.url],
  ] as const) {
    const id = newWebhookId();
    const code = `U4-${name.replaceAll(' ', '-')}`;
    const before = await committed();
    const order: string[] = [];
    const send = (url: string, version: number) =>
      post(
        url,
        signed(secret, nationalUpdate(code, { PhienBan: version, TrangThaiHoSo: String(version) }), { id }),
      ).then((answer) => {
        order.push(answer.status === 202 ? 'accepted' : 'refused');
        return { version, answer };
      });
    // Both at once: whichever the ledger sees first is processed (it waits 1 s in the batcher), the other is
    // refused meanwhile, without waiting for the first one's answer.
    const answers = await Promise.all([send(gatewayA.url, 2), send(second(), 3)]);
    const accepted = answers.filter(({ answer }) => answer.status === 202);
    const refused = answers.filter(({ answer }) => answer.status !== 202);
    expect(accepted).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expectReused(refused[0]!.answer);
    expect(order).toEqual(['refused', 'accepted']);

    expect((await committed()) - before).toBe(1);
    expect(await row(code)).toEqual({ status: accepted[0]!.version, source_version: String(accepted[0]!.version) });
    expect(await events(code)).toBe(1);
  }
});

it('counts reused ids as their own outcome', async () => {
  const metrics = await (await fetch(`${gatewayA.url}/metrics`)).text();
  expect(metrics).toMatch(
    /dossier_sync_webhook_deliveries_total\{connector="reuse-01",outcome="webhook_id_reused"\} [1-9]/,
  );
});
