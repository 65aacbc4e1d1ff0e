import { syncSurvivesSigkill } from './sync-survives-sigkill-run.js';

// The default suite's size; `npm run test:long` runs sync-survives-sigkill.long.ts at 20,000 a province.
syncSurvivesSigkill(6000);
