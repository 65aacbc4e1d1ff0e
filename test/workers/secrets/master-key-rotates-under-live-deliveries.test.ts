import { cliActor } from '../../../workers/control-plane/audit.js';
import { createCipheriv, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Config } from '../../../config/env.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { countWebhookSecretsByKey } from '../../../db/queries/rekey-webhook-secrets.js';
import { rotateWebhookSecret } from '../../../db/queries/webhook-secrets.js';
import { rekeyWebhookSecrets } from '../../../workers/control-plane/secrets-rekey.js';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { generateWebhookSecret, SecretBox } from '../../../workers/webhooks/secret-box.js';
import { WebhookReceivers } from '../../../workers/webhooks/webhook-receivers.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import {
  deliver,
  nationalUpdate,
  registerWebhookConnector,
  signed,
  testSecretsKey,
  writerCaughtUp,
  type Answer,
} from '../webhooks/webhook-client.js';

// The master key goes from A to B while province systems keep pushing: gateways are rolled to SECRETS_KEYS=B,A,
// `rekey` re-seals every stored secret with B, and gateways rolled again to B alone still accept every delivery.
// No delivery is refused and every accepted update is committed; vendors keep their secrets and see nothing.

const keyA = testSecretsKey();
const keyB = testSecretsKey();
const connectors = ['rot-01', 'rot-02', 'rot-03', 'rot-legacy'];
let env: TestEnvironment;
let configA: Config;
let writer: Fleet;
const gateways: Fleet[] = [];
/** The gateways senders deliver to now; a gateway leaves it before it is stopped, as a load balancer drains it. */
let serving: Fleet[] = [];
const secrets = new Map<string, string>();
const answers: { code: string; answer: Answer | Error }[] = [];
let sending = true;
let inFlight = 0;

function configWith(keys: { SECRETS_KEY?: string; SECRETS_KEYS?: string }): Config {
  const { SECRETS_KEY: _a, SECRETS_KEYS: _b, ...rest } = env.config;
  return { ...rest, ...keys };
}

/** A secret stored in the first sealed form (no key id), as a fleet before key ids left it. */
async function issueTheFirstWay(id: string, key: string): Promise<string> {
  await saveConnector(env.db, {
    id,
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: 'http://127.0.0.1:9', pageSize: 100 },
    pollIntervalMs: 3_600_000,
  });
  const secret = generateWebhookSecret();
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(key, 'base64'), nonce, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(`webhook-secret:${id}`, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  await rotateWebhookSecret(env.db, id, Buffer.concat([nonce, cipher.getAuthTag(), ciphertext]), 0);
  return secret;
}

async function startGateway(config: Config): Promise<Fleet> {
  const gateway = await startFleet(config, ['gateway'], createLogger('silent'));
  gateways.push(gateway);
  return gateway;
}

/** Takes a gateway out of service once the deliveries it is answering are answered, then stops it. */
async function drain(gateway: Fleet): Promise<void> {
  serving = serving.filter((candidate) => candidate !== gateway);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const deadline = Date.now() + 20_000;
  while (inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  await gateway.stop();
}

/** One province system pushing updates, one at a time, to whichever gateway serves. */
async function sender(connectorId: string): Promise<void> {
  for (let n = 0; sending; n++) {
    const target = serving[n % serving.length];
    if (!target) break;
    const code = `${connectorId}-${n}`;
    inFlight++;
    try {
      const answer = await deliver(target.url, connectorId, signed(secrets.get(connectorId)!, nationalUpdate(code)));
      answers.push({ code, answer });
    } catch (error) {
      answers.push({ code, answer: error as Error });
    } finally {
      inFlight--;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const deliveredSince = async (count: number) => {
  const start = answers.length;
  while (answers.length < start + count) await new Promise((resolve) => setTimeout(resolve, 20));
};

beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: keyA });
  configA = configWith({ SECRETS_KEY: keyA });
  for (const id of connectors.slice(0, 3)) secrets.set(id, await registerWebhookConnector(env.db, keyA, id));
  secrets.set('rot-legacy', await issueTheFirstWay('rot-legacy', keyA));
  writer = await startFleet(configA, ['writer'], createLogger('silent'));
});
afterAll(async () => {
  sending = false;
  for (const gateway of gateways) await gateway.stop().catch(() => undefined);
  await writer?.stop();
  await env?.cleanup();
});

it('rotates A to B under live deliveries: none refused, every one committed, and B alone suffices after rekey', async () => {
  serving = [await startGateway(configA)];
  const senders = connectors.map((id) => sender(id));
  await deliveredSince(20);

  // Step 1: roll the gateways to SECRETS_KEYS=B,A (one new up, then the old one drained).
  const both = configWith({ SECRETS_KEYS: `${keyB},${keyA}` });
  const rolled = await startGateway(both);
  serving = [serving[0]!, rolled];
  await deliveredSince(20);
  await drain(gateways[0]!);
  await deliveredSince(20);

  // Step 2: rekey while deliveries keep coming, one secret per transaction.
  const boxBA = SecretBox.fromConfig(both)!;
  const summary = await rekeyWebhookSecrets(env.db, boxBA, { actor: cliActor(), batchSize: 1 });
  expect(summary).toMatchObject({ rekeyed: 4, alreadyNewest: 0, unreadable: [], stopped: false });
  expect(await countWebhookSecretsByKey(env.db)).toEqual([{ keyId: boxBA.newestKeyId, secrets: 4 }]);
  // A second run has nothing left to do.
  expect(await rekeyWebhookSecrets(env.db, boxBA, { actor: cliActor() })).toMatchObject({
    rekeyed: 0,
    alreadyNewest: 4,
    unreadable: [],
  });
  await deliveredSince(20);

  // Step 3: roll to SECRETS_KEYS=B alone: key A is gone, and every secret still opens.
  const onlyB = await startGateway(configWith({ SECRETS_KEYS: keyB }));
  serving = [rolled, onlyB];
  await deliveredSince(20);
  await drain(rolled);
  await deliveredSince(40);
  sending = false;
  await Promise.all(senders);

  const refused = answers.filter(({ answer }) => answer instanceof Error || answer.status !== 202);
  expect(refused.map(({ code, answer }) => [code, answer instanceof Error ? answer.message : answer.body])).toEqual([]);
  for (const id of connectors)
    expect(answers.filter(({ code }) => code.startsWith(`${id}-`)).length).toBeGreaterThan(5);
  await writerCaughtUp(
    writer.metrics,
    gateways.map((gateway) => gateway.metrics),
    60_000,
  );
  const stored = await sql<{ code: string }>`SELECT dossier_code AS code FROM dossiers`.execute(env.db);
  expect(stored.rows.map(({ code }) => code).sort()).toEqual(answers.map(({ code }) => code).sort());
}, 180_000);

it('answers as for an unreadable secret when a secret is sealed with a key the gateway lacks, naming its id in the log only', async () => {
  await registerWebhookConnector(env.db, keyA, 'rot-stale');
  const gateway = gateways.at(-1)!;
  const secret = (
    await sql<{ sealed: Buffer }>`SELECT sealed FROM webhook_secrets WHERE connector_id = 'rot-stale'`.execute(env.db)
  ).rows[0]!;
  expect(secret.sealed.length).toBeGreaterThan(40);
  const answer = await deliver(gateway.url, 'rot-stale', signed(generateWebhookSecret(), nationalUpdate('stale-1')));
  expect(answer.status).toBe(500);
  expect(answer.body).toMatchObject({ code: 'internal' });
  const idA = new SecretBox(keyA).newestKeyId;
  expect(JSON.stringify(answer.body)).not.toContain(idA);
  // What the gateway logs: the key id the secret names, and neither a secret nor a key.
  const receiver = await new WebhookReceivers(env.db, new SecretBox(keyB)).get('rot-stale');
  expect(receiver!.secretError).toContain(`sealed with the key ${idA}, which is not in SECRETS_KEYS`);
  for (const hidden of [keyA, keyB, ...secrets.values()]) expect(receiver!.secretError).not.toContain(hidden);
});
