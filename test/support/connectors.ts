import type { Kysely } from 'kysely';
import { saveConnector } from '../../db/queries/connectors.js';
import type { Database } from '../../db/schema.js';

/** Registers a national-rest connector for one simulated province. */
export async function registerSimulatorConnector(
  db: Kysely<Database>,
  simulatorUrl: string,
  province: string,
  options: {
    pageSize?: number;
    pollIntervalMs?: number;
    lookbackSeconds?: number;
    id?: string;
    /** More national-rest settings, e.g. `{ summaryScopesPerRequest: 0 }`. */
    config?: Record<string, unknown>;
  } = {},
): Promise<string> {
  const id = options.id ?? `sim-${province}`;
  await saveConnector(db, {
    id,
    sourceProvinceCode: province,
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: {
      baseUrl: simulatorUrl,
      pageSize: options.pageSize ?? 1000,
      lookbackSeconds: options.lookbackSeconds ?? 3,
      rateLimit: { requestsPerSecond: 200 },
      ...options.config,
    },
    pollIntervalMs: options.pollIntervalMs ?? 300,
  });
  return id;
}

/**
 * A definition's `reconcile.summaries` for the simulator's portal dialect: its multi-scope
 * `POST /api/dossiers/summaries`, described as any vendor's would be.
 */
export function portalSummariesSection(scopesPerRequest: number): Record<string, unknown> {
  return {
    path: '/api/dossiers/summaries',
    query: { province: '{{province}}' },
    body: { scopes: '{{scopes}}', listing: '{{listing}}' },
    scope: {
      updatedFrom: '{{updatedFrom}}',
      updatedTo: '{{updatedTo}}',
      codeFrom: '{{codeFrom}}',
      codeTo: '{{codeTo}}',
    },
    dateFormat: "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
    scopesPerRequest,
    summariesPath: 'summaries',
    digest: { countPath: 'count', hashPath: 'hash' },
    listing: { entriesPath: 'entries', dossierCode: 'dossierCode', sourceVersion: 'version', status: 'status' },
  };
}
