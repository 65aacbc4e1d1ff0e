import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { upsertDossiers } from '../../db/queries/upsert-dossiers.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';
import { dossierRecord } from '../support/records.js';

// The guard reads each incoming dossier's stored row. A batch is one province's (a writer group is one province's
// queue), so it must read that province's partition only: read from every partition, a batch costs more the more
// dossiers the whole country has (a 34-province sync of 300,000 slowed from 18,000 to 7,700 records/s as it went).

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => env.cleanup());

const batchOf = (province: string, count: number, version = 1) =>
  Array.from({ length: count }, (_, i) =>
    dossierRecord({
      provinceCode: province,
      sourceProvinceCode: province,
      dossierCode: `${province}.2026.${String(i).padStart(6, '0')}`,
      sourceVersion: version,
    }),
  );

it('reads the stored rows of the batch’s provinces only, however full the others are', async () => {
  for (const province of ['79', '48', '01']) await upsertDossiers(env.db, batchOf(province, 500));
  await sql`ANALYZE dossiers`.execute(env.db);

  for (const [batch, expected] of [
    [batchOf('01', 50, 2), ['dossiers_p01']],
    [
      [...batchOf('01', 20, 3), ...batchOf('48', 20, 3)],
      ['dossiers_p01', 'dossiers_p48'],
    ],
  ] as const) {
    const read = await env.db.transaction().execute(async (trx) => {
      // This session's counts not yet reported: they may hold earlier transactions' too, hence the difference.
      const scans = async () => {
        const { rows } = await sql<{ relname: string; scans: number }>`
          SELECT relname, (seq_scan + coalesce(idx_scan, 0))::int AS scans FROM pg_stat_xact_user_tables
          WHERE relname LIKE 'dossiers\\_p%'`.execute(trx);
        return new Map(rows.map((row) => [row.relname, row.scans]));
      };
      const before = await scans();
      const outcome = await upsertDossiers(trx, batch);
      expect(outcome.updated).toBe(batch.length);
      const after = await scans();
      return [...after]
        .filter(([name, count]) => count > (before.get(name) ?? 0))
        .map(([name]) => name)
        .sort();
    });
    expect(read).toEqual(expected);
  }
});
