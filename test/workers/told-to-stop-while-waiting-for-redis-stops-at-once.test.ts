import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnFleet } from '../support/fleet-process.js';
import { sparePort } from '../support/own-services.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../support/test-environment.js';

// A worker restarted while Redis restarts waits for it (STARTUP_WAIT_MS). Told to stop meanwhile — an orchestrator's
// SIGTERM of a rolling deploy — it has started nothing, so it gives up the wait and exits 0 at once, instead of
// holding up the stop until the wait ends (ten minutes here: a test that could only pass that way would time out).

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => {
  await env?.cleanup();
});

it('gives up waiting for a dependency on SIGTERM and exits 0', async () => {
  const nobody = await sparePort();
  const fleet = spawnFleet(['start', '--role', 'writer'], {
    ...env.config,
    REDIS_URL: `redis://127.0.0.1:${nobody}`,
    STARTUP_WAIT_MS: '600000',
    LOG_LEVEL: 'info',
  } as unknown as Record<string, string>);
  await waitFor(
    async () => fleet.output().includes('waiting for a dependency to answer'),
    'the worker waiting for Redis',
    60_000,
  );
  fleet.child.kill('SIGTERM');
  expect(await fleet.exited).toBe(0);
  expect(fleet.output()).toMatch(/stopped before start-up had finished/);
  expect(fleet.output()).not.toMatch(/uncaught|unhandled/i);
});
