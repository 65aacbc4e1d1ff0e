import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { startFleet, roles, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// A secret missing on a poller is our configuration's fault: the connector shows the error, naming the
// reference, and nothing is sent; its circuit breaker, which speaks of the province system's health, stays closed.

let env: TestEnvironment;
let fleet: Fleet;
let server: Server;
let requests = 0;
beforeAll(async () => {
  env = await createTestEnvironment();
  delete process.env.DOSSIER_SYNC_TEST_MISSING_KEY;
  server = createServer((_request, response) => {
    requests += 1;
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[],"hasMore":false}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await saveConnector(env.db, {
    id: 'hue-keyless',
    sourceProvinceCode: '46',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: {
      baseUrl,
      apiKey: { env: 'DOSSIER_SYNC_TEST_MISSING_KEY' },
      breaker: { volumeThreshold: 2, resetTimeoutSeconds: 60 },
    },
    pollIntervalMs: 100,
  });
  fleet = await startFleet(env.config, roles, createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  await new Promise((resolve) => server?.close(resolve));
  await env?.cleanup();
});

it('records the missing secret as the connector error, sends nothing, and leaves the breaker closed', async () => {
  const connector = () =>
    env.db
      .selectFrom('connectors')
      .select(['last_error', 'breaker_state'])
      .where('id', '=', 'hue-keyless')
      .executeTakeFirstOrThrow();
  await waitFor(async () => (await connector()).last_error !== null, 'the connector error recorded');
  // Several more runs, each failing the same way: enough to open a breaker that counted them.
  const failedRuns = async () =>
    Number(
      (await (await fetch(`${fleet.url}/metrics`)).text()).match(
        /dossier_sync_poll_runs_total\{[^}]*outcome="failed"[^}]*\} (\d+)/,
      )?.[1] ?? 0,
    );
  await waitFor(async () => (await failedRuns()) >= 5, 'five failed poll runs');
  const row = await connector();
  expect(row.last_error).toMatch(/apiKey: environment variable DOSSIER_SYNC_TEST_MISSING_KEY is not set/);
  expect(row.breaker_state ?? 'closed').toBe('closed');
  expect(requests).toBe(0);
});
