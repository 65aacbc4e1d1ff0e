import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests talk to real Redis, Postgres, HTTP servers and child processes.
    testTimeout: 120_000,
    // Stopping a fleet waits for the batches in hand; on a loaded 2-core machine that can take a while.
    hookTimeout: 180_000,
    pool: 'forks',
    // One worker process runs many test files, one after another, each with its own database, Redis prefix and
    // processes: a fresh process per file cost more than the tests (the suite's imports alone were 286 s of 752 s,
    // Node loading fastify, BullMQ, kysely and the fleet again for every file). So a test file leaves no global
    // state behind: it deletes the environment variables it sets, restores what it mocks and real timers.
    isolate: false,
    // Every test file's last afterAll stops whatever process or service its tests left running.
    setupFiles: ['test/support/stop-started-processes.ts'],
    // Once per run: the schema migrated into a template each test file's database is copied from, and the checkout
    // transpiled for the `fleet` processes the tests start.
    globalSetup: ['test/support/migrated-template.ts', 'test/support/transpiled-checkout.ts'],
    // Three test files at a time on two cores, each with its own database and Redis key prefix: much of a file's time
    // is waiting (on a simulator's delay, a rate limit, a child process starting, a poll interval), and a third file
    // fills it (the suite measured 1.6 files' worth of test time per second of wall time with two).
    maxWorkers: 3,
    reporters: ['default'],
  },
});
