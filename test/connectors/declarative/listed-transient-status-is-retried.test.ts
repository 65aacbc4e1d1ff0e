import { it } from 'vitest';
import { DeclarativeConnector } from '../../../connectors/declarative/declarative-connector.js';
import { declarativeConfig } from '../../../connectors/declarative/declarative-config.js';
import { expectListedStatusesRetried } from '../transient-status-retries.js';

it('retries a status its retry section lists, and not a 4xx it does not list', async () => {
  await expectListedStatusesRetried(
    (baseUrl, transientStatusCodes) => {
      const config = declarativeConfig.parse({
        http: { baseUrl },
        request: { path: '/records', query: { since: '{{cursor}}' } },
        pagination: { type: 'none' },
        records: { path: 'items' },
        fields: { dossierCode: 'code', status: 'state', sourceUpdatedAt: 'updatedAt' },
        statuses: { preset: 'english' },
        rateLimit: { requestsPerSecond: 1000 },
        ...(transientStatusCodes ? { retry: { transientStatusCodes } } : {}),
      });
      return {
        connector: new DeclarativeConnector({
          id: 'transient-statuses',
          sourceProvinceCode: '79',
          sourceCodeSet: '2025',
          config,
        }),
        config,
      };
    },
    { status: 200, body: JSON.stringify({ items: [] }), contentType: 'application/json' },
  );
});
