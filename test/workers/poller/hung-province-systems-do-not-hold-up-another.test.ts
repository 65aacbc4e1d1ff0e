import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { currentProvinces } from '../../../config/provinces.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { startFleet, roles, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { compareWithTruth } from '../../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// Many province systems hang at once (a shared vendor platform down): every request of theirs is held open until
// the connector's timeout. A poller's slots must not all be taken by them while a healthy province waits.
const hungCount = 12;
const hungProvinces = currentProvinces
  .map(({ code }) => code)
  .filter((code) => code !== '01')
  .slice(0, hungCount);

let env: TestEnvironment;
let fleet: Fleet;
let hangingServer: Server;
let simulator: ProvinceSimulator;
const held = new Set<IncomingMessage>();
let answeredOrClosed = 0;

beforeAll(async () => {
  env = await createTestEnvironment();
  hangingServer = createServer((request) => {
    held.add(request);
    request.socket.on('close', () => {
      if (held.delete(request)) answeredOrClosed += 1;
    });
  });
  await new Promise<void>((resolve) => hangingServer.listen(0, '127.0.0.1', resolve));
  const hangingUrl = `http://127.0.0.1:${(hangingServer.address() as AddressInfo).port}`;
  simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 200, seed: 11, paused: true });
  const simulatorUrl = await simulator.start();
  for (const province of hungProvinces) {
    // Their timeout outlasts the test: a request of theirs ends only if a poller gives up on it.
    await saveConnector(env.db, {
      id: `hung-${province}`,
      sourceProvinceCode: province,
      sourceCodeSet: '2025',
      kind: 'national-rest',
      config: { baseUrl: hangingUrl, timeoutMs: 120_000, retry: { maxAttempts: 1 } },
      pollIntervalMs: 200,
    });
  }
  fleet = await startFleet(env.config, roles, createLogger('silent'));
  await waitFor(
    () => held.size === hungProvinces.length,
    'a request of each hung province system in flight at once',
    30_000,
  );
  await saveConnector(env.db, {
    id: 'hanoi',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: simulatorUrl, lookbackSeconds: 0 },
    pollIntervalMs: 200,
  });
}, 120_000);

afterAll(async () => {
  for (const request of held) request.socket.destroy();
  await fleet?.stop();
  await simulator?.stop();
  await new Promise((resolve) => hangingServer?.close(resolve));
  await env?.cleanup();
});

it('syncs a healthy province while twelve others hang', async () => {
  await waitFor(
    async () => (await compareWithTruth(env.db, simulator)).missing === 0,
    'the healthy province synced while the others hang',
    60_000,
  );
  // Every hung request is still open: the healthy province did not wait for any of them to time out.
  expect(held.size).toBe(hungCount);
  expect(answeredOrClosed).toBe(0);
});
