import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { startFleet, roles, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { runFleet } from '../../support/fleet-process.js';
import { sparePort } from '../../support/own-services.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

let env: TestEnvironment;
let fleet: Fleet;
beforeAll(async () => {
  env = await createTestEnvironment();
  // A province system that is down: nothing listens on its port.
  const baseUrl = `http://127.0.0.1:${await sparePort()}`;
  await saveConnector(env.db, {
    id: 'hue-down',
    sourceProvinceCode: '46',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl, breaker: { volumeThreshold: 2, resetTimeoutSeconds: 60 }, retry: { maxAttempts: 1 } },
    pollIntervalMs: 200,
  });
  fleet = await startFleet(env.config, roles, createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  await env?.cleanup();
});

it('records an opened breaker for fleet connector list, and exports it as a gauge', async () => {
  await waitFor(
    async () =>
      (await env.db.selectFrom('connectors').select('breaker_state').where('id', '=', 'hue-down').executeTakeFirst())
        ?.breaker_state === 'open',
    'the breaker opened',
  );
  const metrics = await (await fetch(`${fleet.url}/metrics`)).text();
  expect(metrics).toMatch(/^dossier_sync_breaker_state\{province="46",connector="hue-down"\} 2$/m);
  const { code, output } = await runFleet(['connector', 'list'], { DATABASE_URL: env.config.DATABASE_URL });
  expect(code).toBe(0);
  expect(output).toMatch(/hue-down\s+46\s+national-rest\s+active\s+open\s/);
  expect(output).toMatch(/circuit breaker open|no answer from the province system/);
});
