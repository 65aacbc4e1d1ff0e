import { afterAll } from 'vitest';
import { startedProcesses } from './process-group-registry.js';

// A setup file of every vitest config: each test file's last afterAll stops whatever process or service its
// tests left running, however they ended. Setup files register first and vitest runs after-hooks in reverse,
// so a test's own cleanup (a clean SIGTERM, a dropped database) comes before this.
afterAll(async () => {
  const leftRunning = await startedProcesses.stopAll();
  if (leftRunning.length > 0)
    console.log(`left running at the end of the file, now stopped:\n  ${leftRunning.join('\n  ')}`);
});
