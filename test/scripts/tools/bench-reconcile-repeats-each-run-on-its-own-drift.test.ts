import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { runApart } from '../cli/run-fleet-apart.js';

const tsxLoader = createRequire(import.meta.url).resolve('tsx');
const benchScript = fileURLToPath(new URL('../../../scripts/tools/bench-reconcile.ts', import.meta.url));

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(() => env.cleanup());

// What a run leaves unrepaired (a dossier the source deleted, a version gone backwards) is settled before the next
// repeat: without that, each repeat would also find every earlier run's leftovers, and its figures would grow run by
// run instead of measuring the same work again.
it('bench-reconcile --repeat runs each reconcile on its own fresh drift, and judges the median', async () => {
  const run = await runApart(
    process.execPath,
    ['--import', tsxLoader, benchScript, '--dossiers', '4000', '--skip-pages', '--repeat', '2'],
    {
      DATABASE_URL: env.config.DATABASE_URL,
      REDIS_URL: env.config.REDIS_URL,
      QUEUE_PREFIX: env.config.QUEUE_PREFIX,
    },
  );
  expect(run.code, run.stderr).toBe(0);
  const rows = run.stdout.split('\n').filter((line) => line.startsWith('| reconcile with summaries'));
  expect(rows).toHaveLength(2);
  for (const row of rows) {
    const [, found, injected] = /\| (\d+) of (\d+) injected/.exec(row) ?? [];
    expect(Number(injected), row).toBe(4);
    // Four drifted (one of each kind); never more found than the run's own drift.
    expect(Number(found), row).toBeGreaterThanOrEqual(3);
    expect(Number(found), row).toBeLessThanOrEqual(4);
  }
  expect(run.stderr).toMatch(/unrepaired mismatches settled in our copy to the source's word/);
  expect(run.stdout).toMatch(
    /^with summaries \(median of 2 runs: \d+\.\d, \d+\.\d×\): \d+\.\d× faster than the re-sync/m,
  );
}, 300_000);
