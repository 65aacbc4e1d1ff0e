import { cliActor } from '../../../workers/control-plane/audit.js';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import type { ConnectorStatusView } from '../../../workers/control-plane/connector-status.js';
import { startFleet, roles, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { runFleet } from '../../support/fleet-process.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// A province system that fails every request, and says in its answers what it should not: the API key it was
// sent and an applicant's name and phone. The status tells the failure, its time and the breaker, and none of that.

const apiKey = 'sk-status-test-0b7c1f9e4d2a';
const applicant = 'Nguyễn Thị Hoa';
const phone = '0912345678';
let env: TestEnvironment;
let fleet: Fleet;
let server: Server;
let key: string;
let cli: Record<string, string>;

beforeAll(async () => {
  env = await createTestEnvironment();
  cli = { DATABASE_URL: env.config.DATABASE_URL, LOG_LEVEL: 'silent' };
  server = createServer((request, response) => {
    response.writeHead(503, { 'content-type': 'application/json', 'x-echo-key': String(request.headers['x-api-key']) });
    response.end(
      JSON.stringify({
        error: `maintenance; last request with key ${String(request.headers['x-api-key'])} for ${applicant}, ${phone}`,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  // The poller reads the key from its own environment: this process's.
  process.env.STATUS_TEST_PROVINCE_KEY = apiKey;
  await saveConnector(env.db, {
    id: 'hue-failing',
    sourceProvinceCode: '46',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: {
      baseUrl,
      apiKey: { env: 'STATUS_TEST_PROVINCE_KEY' },
      breaker: { volumeThreshold: 2, resetTimeoutSeconds: 60 },
      retry: { maxAttempts: 1 },
    },
    pollIntervalMs: 200,
  });
  ({ key } = await createApiKey(env.db, 'ops', 'admin', { actor: cliActor() }));
  fleet = await startFleet(env.config, roles, createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  await new Promise((resolve) => server?.close(resolve));
  delete process.env.STATUS_TEST_PROVINCE_KEY;
  await env?.cleanup();
});

const status = (...args: string[]) => runFleet(['connector', 'status', ...args], cli);

it('shows the last error with its time, the failed run and the open breaker; never the key or personal data', async () => {
  let view: ConnectorStatusView | undefined;
  await waitFor(
    async () => {
      const { code, output } = await status('hue-failing', '-o', 'json');
      expect(code, output).toBe(0);
      view = JSON.parse(output) as ConnectorStatusView;
      return view.breaker?.state === 'open' && view.lastError !== null && view.run?.outcome === 'failed';
    },
    'the failure recorded and the breaker open',
    90_000,
  );
  expect(view!.lastError).toEqual({
    message: expect.stringMatching(/hue-failing/),
    at: expect.any(String),
    followedBySuccess: false,
  });
  expect(view!.lastError!.message).toMatch(/503|circuit breaker open/);
  expect(view!).toMatchObject({
    state: 'active',
    polled: true,
    storedDossiers: 0,
    lastSuccessAt: null,
    position: null,
  });
  expect(view!.run).toMatchObject({ pages: 0, records: 0, endedAt: expect.any(String), recordsPerSecond: null });

  const text = await status('hue-failing');
  expect(text.code).toBe(0);
  expect(text.output).toMatch(
    /^connector hue-failing \(national-rest, province 46, code set 2025\): active; breaker open since [\d-]+ [\d:]+Z$/m,
  );
  // A run every 200 ms: the text may catch the next one starting.
  expect(text.output).toMatch(
    /^(last run: .*, failed \(last error below\): 0 pages, 0 records, 0 dead letters, - records\/s|run: running since [\d-]+ [\d:]+Z: 0 pages, 0 records, 0 dead letters, - records\/s; no page yet)$/m,
  );
  expect(text.output).toMatch(/^last error: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z connector hue-failing: /m);
  expect(text.output).toMatch(/^position: none yet/m);

  const answer = await fetch(`${fleet.url}/v1/admin/connectors/hue-failing/status`, {
    headers: { authorization: `Bearer ${key}` },
  });
  const body = await answer.text();
  expect(answer.status).toBe(200);
  for (const shown of [JSON.stringify(view), text.output, body]) {
    expect(shown).not.toContain(apiKey);
    expect(shown).not.toContain(applicant);
    expect(shown).not.toContain(phone);
  }
}, 150_000);

it('answers an unknown connector with exit 3 and one line, and 404 not_found from the admin API', async () => {
  for (const args of [['no-such-connector'], ['no-such-connector', '-o', 'json']]) {
    const { code, output } = await status(...args);
    expect(code).toBe(3);
    expect(output.trim()).toBe('fleet connector status: connector no-such-connector is not registered');
  }
  const answer = await fetch(`${fleet.url}/v1/admin/connectors/no-such-connector/status`, {
    headers: { authorization: `Bearer ${key}` },
  });
  expect(answer.status).toBe(404);
  expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(await answer.json()).toMatchObject({
    status: 404,
    code: 'not_found',
    detail: 'connector no-such-connector is not registered',
    instance: '/v1/admin/connectors/no-such-connector/status',
  });
  // Without a key, the route is refused like every admin route.
  expect((await fetch(`${fleet.url}/v1/admin/connectors/hue-failing/status`)).status).toBe(401);
});
