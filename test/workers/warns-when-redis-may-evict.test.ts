import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnFleet } from '../support/fleet-process.js';
import { startedProcesses } from '../support/process-group-registry.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../support/test-environment.js';

let env: TestEnvironment;
let redis: ChildProcess;
let port: number;

beforeAll(async () => {
  env = await createTestEnvironment();
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  // Our own Redis on a spare port, configured the way DESIGN.md forbids.
  redis = startedProcesses.spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'allkeys-lru',
    ],
    { stdio: 'ignore' },
  );
});
afterAll(async () => {
  redis?.kill('SIGKILL');
  await env?.cleanup();
});

it('warns at start when Redis may evict queued batches', async () => {
  const fleet = spawnFleet(['start', '--role', 'writer'], {
    DATABASE_URL: env.config.DATABASE_URL,
    REDIS_URL: `redis://127.0.0.1:${port}`,
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
  });
  await waitFor(() => fleet.output().includes('maxmemory-policy'), 'the warning', 30_000);
  fleet.child.kill('SIGTERM');
  expect(await fleet.exited).toBe(0);
  expect(fleet.output()).toMatch(/Redis maxmemory-policy is allkeys-lru; expected noeviction/);
});
