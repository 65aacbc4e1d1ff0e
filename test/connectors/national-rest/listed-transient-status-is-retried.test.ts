import { it } from 'vitest';
import {
  NationalRestConnector,
  nationalRestConfig,
} from '../../../connectors/national-rest/national-rest-connector.js';
import { expectListedStatusesRetried } from '../transient-status-retries.js';

it('retries a status its retry section lists, and not a 4xx it does not list', async () => {
  await expectListedStatusesRetried(
    (baseUrl, transientStatusCodes) => {
      const config = nationalRestConfig.parse({
        baseUrl,
        rateLimit: { requestsPerSecond: 1000 },
        ...(transientStatusCodes ? { retry: { transientStatusCodes } } : {}),
      });
      return {
        connector: new NationalRestConnector({
          id: 'transient-statuses',
          sourceProvinceCode: '79',
          sourceCodeSet: '2025',
          config,
        }),
        config,
      };
    },
    { status: 200, body: JSON.stringify({ items: [], hasMore: false }), contentType: 'application/json' },
  );
});
