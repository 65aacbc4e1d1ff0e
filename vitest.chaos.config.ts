import { defineConfig } from 'vitest/config';

// `npm run test:chaos`: the long chaos run, on its own (it starts its own Redis and Postgres).
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    testTimeout: 900_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Every test file's last afterAll stops whatever process or service its tests left running.
    setupFiles: ['test/support/stop-started-processes.ts'],
    maxWorkers: 1,
  },
});
