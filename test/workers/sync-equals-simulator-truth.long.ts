import { syncEqualsSimulatorTruth } from './sync-equals-simulator-truth-run.js';

// `npm run test:long`: the whole sync at 60,000 dossiers, long enough for every page size and the queue to fill.
syncEqualsSimulatorTruth(20_000);
