import { syncSurvivesSigkill } from './sync-survives-sigkill-run.js';

// `npm run test:long`: killed at 3,000 and 15,000 rows of 40,000, many batches in flight each time.
syncSurvivesSigkill(20_000);
