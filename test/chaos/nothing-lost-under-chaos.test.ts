import { it } from 'vitest';
import { expectChaosPassed, runChaos } from './chaos-run.js';

// The short variant of `npm run test:chaos`, in the default suite: every fault once, on a small data set.
it('loses nothing, never goes backwards and keeps healthy provinces moving under chaos (short run)', async () => {
  expectChaosPassed(await runChaos({ dossiersPerProvince: 1500, durationMs: 24_000, killEveryMs: 4000, outageMs: 10_000, changesPerSecond: 100 }), 30);
}, 300_000);
