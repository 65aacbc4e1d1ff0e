import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { feedPageQuery, type DossierFeedRequest } from '../../db/queries/list-dossiers.js';
import { upsertDossiers } from '../../db/queries/upsert-dossiers.js';
import { dossierRecord } from '../support/records.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';

// A feed page must be a range scan of the change-feed index (migration 0008), never a sort of the rows synced since
// the cursor: at 1,000,000 dossiers an ORDER BY the index could not serve made a national page take 549 ms instead
// of 5 ms, and no behaviour test noticed. With sorting made as costly as the planner allows, a plan that still sorts
// is one the index cannot serve.

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
  for (const provinceCode of ['01', '79', '48']) {
    const records = Array.from({ length: 300 }, (_, n) =>
      dossierRecord({ provinceCode, sourceProvinceCode: provinceCode, dossierCode: `${provinceCode}.2026.${n}` }),
    );
    await upsertDossiers(env.db, records);
  }
  await sql`ANALYZE dossiers`.execute(env.db);
});
afterAll(async () => {
  await env?.cleanup();
});

async function plan(request: DossierFeedRequest): Promise<string> {
  return env.db.transaction().execute(async (trx) => {
    await sql`SET LOCAL enable_sort = off`.execute(trx);
    await sql`SET LOCAL enable_seqscan = off`.execute(trx);
    const { rows } = await sql<{
      'QUERY PLAN': unknown;
    }>`EXPLAIN (FORMAT JSON) ${feedPageQuery(new Date(), request)}`.execute(trx);
    return JSON.stringify(rows[0]!['QUERY PLAN']);
  });
}

const after = { syncedAt: '2000-01-01T00:00:00.000000Z', provinceCode: '01', dossierCode: '' };

it.each([
  ['national, from the start', { filters: {}, limit: 1000 }],
  ['national, after a position, two statuses', { filters: { statuses: [2, 4] }, after, limit: 100 }],
  ['one province, after a position', { filters: { provinceCode: '79' }, after, limit: 1000 }],
  ["a province key's provinces", { filters: { provinceCodes: ['01', '48'] }, after, limit: 1000 }],
  ['since a time', { filters: { updatedSince: '2026-01-01T00:00:00Z' }, limit: 10 }],
] as [string, DossierFeedRequest][])('%s: the index serves the order', async (_name, request) => {
  const text = await plan(request);
  // Each partition's copy of the index is named by Postgres for its columns.
  expect(text).toMatch(/"Index Name":"dossiers_p\d+_synced_at_province_code_dossier_code_idx"/);
  expect(text).not.toContain('"Node Type":"Sort"');
});
