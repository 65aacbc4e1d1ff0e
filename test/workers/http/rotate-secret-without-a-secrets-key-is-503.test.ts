import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { startGatewayServer, type GatewayServer } from './gateway-server.js';

// A gateway without SECRETS_KEY(S) cannot seal a new webhook secret: the admin API says so (503
// webhooks_not_configured) and issues nothing, records nothing.

let env: TestEnvironment;
let gateway: GatewayServer;
let key: { id: string; key: string };

beforeAll(async () => {
  env = await createTestEnvironment();
  gateway = await startGatewayServer(env, { secretBox: null });
  key = await createApiKey(env.db, 'operators', 'admin', { actor: cliActor() });
  await saveConnector(env.db, {
    id: 'hn-01',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: 'http://127.0.0.1:9' },
    pollIntervalMs: 60_000,
  });
});
afterAll(async () => {
  await gateway?.close();
  await env?.cleanup();
});

it('answers 503 webhooks_not_configured and stores no secret', async () => {
  const response = await fetch(`${gateway.url}/v1/admin/connectors/hn-01/rotate-secret`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key.key}` },
  });
  const text = await response.clone().text();
  expect(response.status, text).toBe(503);
  expect(await response.json()).toMatchObject({ code: 'webhooks_not_configured' });
  expect(await env.db.selectFrom('webhook_secrets').selectAll().execute()).toEqual([]);
  const actions = await env.db.selectFrom('audit_events').select('action').execute();
  expect(actions.map(({ action }) => action)).not.toContain('webhook_secret.rotate');
});
