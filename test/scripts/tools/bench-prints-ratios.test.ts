import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { runFleetApart } from '../cli/run-fleet-apart.js';

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(() => env.cleanup());

it('fleet bench prints the phases table and ends with the two ratio lines, with numbers', async () => {
  const run = await runFleetApart(['bench', '--records', '500', '--naive-sample', '200'], {
    DATABASE_URL: env.config.DATABASE_URL,
    REDIS_URL: env.config.REDIS_URL,
    QUEUE_PREFIX: env.config.QUEUE_PREFIX,
  });
  expect(run.code, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/\| COPY into a twin of dossiers \(raw limit\) +\| 500 /);
  expect(run.stdout).toMatch(/\| naive: one BullMQ job \+ one upsert per record +\| 200 /);
  expect(run.stdout).toMatch(/\| end to end, 34 provinces, 2 writer processes +\|/);
  expect(run.stdout).toMatch(/\| end to end, 1 province \(one connector\), 1 writer process +\| 500 /);
  const lines = run.stdout.trim().split('\n');
  expect(lines.at(-2)).toMatch(/^e2e\/copy ratio: \d+\.\d\d$/);
  expect(lines.at(-1)).toMatch(/^e2e\/naive ratio: \d+\.\d\d$/);
}, 240_000);
