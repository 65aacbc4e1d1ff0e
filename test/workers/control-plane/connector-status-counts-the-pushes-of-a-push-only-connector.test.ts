import { cliActor } from '../../../workers/control-plane/audit.js';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import type { ConnectorStatusView } from '../../../workers/control-plane/connector-status.js';
import { startFleet, roles, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { runFleet } from '../../support/fleet-process.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { deliver, issueSecret, signed, testSecretsKey } from '../webhooks/webhook-client.js';

// A push-only connector has no run and no position: its status tells when the newest pushed update was received
// and committed, how many updates were committed, and how many dossiers that left stored.

const example = fileURLToPath(new URL('../../../connectors/examples/danang-push.yaml', import.meta.url));
const sample = fileURLToPath(new URL('../../../connectors/examples/danang-push.sample.json', import.meta.url));
const secretsKey = testSecretsKey();
let env: TestEnvironment;
let fleet: Fleet;
let cli: Record<string, string>;
let secret: string;
let key: string;

async function statusJson(): Promise<ConnectorStatusView> {
  const { code, output } = await runFleet(['connector', 'status', 'danang-push', '-o', 'json'], cli);
  expect(code, output).toBe(0);
  return JSON.parse(output) as ConnectorStatusView;
}

beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: secretsKey });
  cli = { DATABASE_URL: env.config.DATABASE_URL, LOG_LEVEL: 'silent' };
  expect(await runFleet(['connector', 'add', '--file', example], cli)).toMatchObject({ code: 0 });
  secret = await issueSecret(env.db, secretsKey, 'danang-push', 0);
  ({ key } = await createApiKey(env.db, 'ops', 'admin', { actor: cliActor() }));
  fleet = await startFleet(env.config, roles, createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  await env?.cleanup();
});

it('shows no push before the first one, and the last push received and the updates committed after', async () => {
  const before = await statusJson();
  expect(before).toMatchObject({
    polled: false,
    run: null,
    position: null,
    storedDossiers: 0,
    pushes: { updates: 0, lastReceivedAt: null, lastCommittedAt: null },
  });

  const body = await readFile(sample, 'utf8');
  const sentAt = Date.now();
  // The same two updates twice, as two deliveries: four updates committed, two dossiers stored.
  for (let delivery = 0; delivery < 2; delivery++)
    expect(await deliver(fleet.url, 'danang-push', signed(secret, body))).toMatchObject({
      status: 202,
      body: { accepted: 2 },
    });
  const answeredAt = Date.now();

  let view: ConnectorStatusView | undefined;
  await waitFor(async () => (view = await statusJson()).pushes.updates === 4, 'both deliveries counted', 60_000);
  expect(view!).toMatchObject({
    id: 'danang-push',
    kind: 'declarative',
    provinceCode: '48',
    state: 'active',
    polled: false,
    run: null,
    position: null,
    storedDossiers: 2,
    lastError: null,
    breaker: null,
  });
  const received = Date.parse(view!.pushes.lastReceivedAt!);
  // Whole seconds or better: the receipt lies between the first send and the last answer.
  expect(received).toBeGreaterThanOrEqual(sentAt - 1000);
  expect(received).toBeLessThanOrEqual(answeredAt + 1000);
  expect(Date.parse(view!.pushes.lastCommittedAt!)).toBeGreaterThanOrEqual(received - 1000);

  const response = await fetch(`${fleet.url}/v1/admin/connectors/danang-push/status`, {
    headers: { authorization: `Bearer ${key}` },
  });
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual(view);

  const text = await runFleet(['connector', 'status', 'danang-push'], cli);
  expect(text.code).toBe(0);
  expect(text.output.trimEnd().split('\n')).toEqual([
    'connector danang-push (declarative, province 48, code set 2025): active',
    'stored: 2 dossiers',
    'push-only: never polled (no runs, no position)',
    'last error: -',
    expect.stringMatching(
      /^pushes: 4 updates committed; the newest received \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z, committed \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/,
    ),
  ]);
}, 150_000);
