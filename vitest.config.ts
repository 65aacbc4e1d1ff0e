import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests talk to real Redis, Postgres, HTTP servers and child processes.
    testTimeout: 120_000,
    // Stopping a fleet waits for the batches in hand; on a loaded 2-core machine that can take a while.
    hookTimeout: 180_000,
    pool: 'forks',
    // Every test file's last afterAll stops whatever process or service its tests left running.
    setupFiles: ['test/support/stop-started-processes.ts'],
    // Once per run: the schema migrated into a template each test file's database is copied from, and the checkout
    // transpiled for the `fleet` processes the tests start.
    globalSetup: ['test/support/migrated-template.ts', 'test/support/transpiled-checkout.ts'],
    // Two cores: two test files at a time, each with its own database and Redis key prefix.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
