import { it } from 'vitest';
import { expectChaosPassed, runChaos } from './chaos-run.js';

// The short variant of `npm run test:chaos`, in the default suite: every fault once, on a small data set.
it('loses nothing, never goes backwards and keeps healthy provinces moving under chaos (short run)', async ({
  signal,
}) => {
  const report = await runChaos({
    dossiersPerProvince: 1500,
    durationMs: 32_000,
    provinceFaultsOnlyMs: 8_000,
    killEveryMs: 4000,
    outageMs: 10_000,
    changesPerSecond: 100,
    maxWaitMs: 100_000,
    signal,
  });
  expectChaosPassed(report, { provinceFaultsOnly: 10, allFaults: 30 });
}, 420_000);
