import { defineConfig } from 'vitest/config';
import suite from './vitest.config.js';

// `npm run test:long`: the long variants (`*.long.ts`) of tests whose default-suite form runs small — a whole sync
// at full size, the chaos harness cut short and killed in a vitest of its own — with the default suite's settings.
export default defineConfig({
  test: {
    ...suite.test,
    include: ['test/**/*.long.ts'],
    testTimeout: 600_000,
    // One at a time: each is a full-size run that wants the machine to itself.
    maxWorkers: 1,
  },
});
