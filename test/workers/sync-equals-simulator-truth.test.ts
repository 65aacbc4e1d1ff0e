import { syncEqualsSimulatorTruth } from './sync-equals-simulator-truth-run.js';

// The default suite's size; `npm run test:long` runs sync-equals-simulator-truth.long.ts at 20,000 a province.
syncEqualsSimulatorTruth(3000);
