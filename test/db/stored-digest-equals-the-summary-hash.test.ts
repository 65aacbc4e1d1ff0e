import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DossierStatus } from '../../connectors/sdk/dossier-status.js';
import { digestOf, entryHash } from '../../connectors/sdk/summary-hash.js';
import { storedDigest, storedEntries } from '../../db/queries/reconcile-copy.js';
import { writeBatch } from '../../workers/writer/write-batch.js';
import { dossierRecord } from '../support/records.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';

// Our side of a reconcile is summarised in SQL: its count and hash must be exactly what connectors/sdk/summary-hash.ts
// computes over the same (code, version, status), whatever the codes (non-ASCII included) and versions (large
// ones, hashes whose first byte is high so that the signed reading is negative).

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => env.cleanup());

const day = new Date('2026-11-10T00:00:00+07:00');

it('equals summary-hash.ts over the same rows, for a whole day and for a code range inside it', async () => {
  const records = Array.from({ length: 600 }, (_, index) =>
    dossierRecord({
      dossierCode: index % 50 === 0 ? `01.2026.Đ${index}` : `01.2026.${String(index).padStart(6, '0')}`,
      sourceVersion: index % 7 === 0 ? 9_007_199_254_740_000 + index : index,
      status: ((index % 10) + 1) as DossierStatus,
      sourceStatus: String((index % 10) + 1),
      sourceUpdatedAt: new Date(day.getTime() + index * 60_000).toISOString(),
    }),
  );
  await writeBatch(env.db, { origin: 'poll', connectorId: 'test', provinceCode: '01', records, deadLetters: [] });
  const whole = { updatedFrom: day, updatedTo: new Date(day.getTime() + 86_400_000), codeFrom: null, codeTo: null };
  const expected = digestOf(
    records.map((record) => ({
      dossierCode: record.dossierCode,
      sourceVersion: record.sourceVersion,
      status: record.status,
    })),
  );
  expect(await storedDigest(env.db, '01', whole)).toEqual(expected);
  expect(await storedEntries(env.db, '01', whole)).toHaveLength(600);

  const part = {
    ...whole,
    updatedFrom: new Date(day.getTime() + 100 * 60_000),
    codeFrom: '01.2026.000200',
    codeTo: '01.2026.000400',
  };
  const inPart = records.filter(
    (record) =>
      Date.parse(record.sourceUpdatedAt) >= part.updatedFrom.getTime() &&
      record.dossierCode >= part.codeFrom &&
      record.dossierCode < part.codeTo,
  );
  expect(inPart.length).toBeGreaterThan(100);
  expect(await storedDigest(env.db, '01', part)).toEqual(
    digestOf(
      inPart.map((record) => ({
        dossierCode: record.dossierCode,
        sourceVersion: record.sourceVersion,
        status: record.status,
      })),
    ),
  );
  // An empty scope: count 0, hash 0.
  expect(await storedDigest(env.db, '01', { ...whole, updatedFrom: new Date(0), updatedTo: new Date(1000) })).toEqual({
    count: 0,
    hash: '0000000000000000',
  });
});

it("keeps each row's stored hash equal to summary-hash.ts's through inserts, updates, a status change and an UPDATE behind the writer", async () => {
  const provinceDay = new Date('2026-11-20T00:00:00+07:00');
  const scope = {
    updatedFrom: provinceDay,
    updatedTo: new Date(provinceDay.getTime() + 86_400_000),
    codeFrom: null,
    codeTo: null,
  };
  const record = (index: number, version: number, status: DossierStatus) =>
    dossierRecord({
      provinceCode: '79',
      // Non-ASCII codes, and codes with a backslash (the stored hash reads the text's bytes by decode(…, 'escape')).
      dossierCode:
        index % 9 === 0
          ? `79.2026.Ư${index}`
          : index % 13 === 0
            ? `79.2026.\\${index}\\0`
            : `79.2026.${String(index).padStart(6, '0')}`,
      sourceVersion: index % 5 === 0 ? 9_007_199_254_000_000 + version : version,
      status,
      sourceStatus: String(status),
      sourceUpdatedAt: new Date(provinceDay.getTime() + index * 1000 + version).toISOString(),
    });
  const write = (records: ReturnType<typeof record>[]) =>
    writeBatch(env.db, { origin: 'poll', connectorId: 'test', provinceCode: '79', records, deadLetters: [] });
  /** Every row of the day: its stored hash against entryHash of its (code, version, status), as a signed bigint. */
  const expectRowsAgree = async (rows: number) => {
    const stored = await env.db
      .selectFrom('dossiers')
      .select(['dossier_code', 'source_version', 'status', 'summary_digest'])
      .where('province_code', '=', '79')
      .execute();
    expect(stored).toHaveLength(rows);
    for (const row of stored) {
      const unsigned = entryHash({
        dossierCode: row.dossier_code,
        sourceVersion: Number(row.source_version),
        status: row.status,
      });
      expect(BigInt.asUintN(64, BigInt(row.summary_digest)), row.dossier_code).toBe(unsigned);
    }
    // And the scope's digest (summed from the stored hashes) equals summary-hash.ts over the rows' entries.
    expect(await storedDigest(env.db, '79', scope)).toEqual(
      digestOf(
        stored.map((row) => ({
          dossierCode: row.dossier_code,
          sourceVersion: Number(row.source_version),
          status: row.status,
        })),
      ),
    );
  };

  await write(Array.from({ length: 200 }, (_, index) => record(index, 1, 2)));
  await expectRowsAgree(200);
  // Updates: a new version of half of them, a status change of some of those.
  await write(Array.from({ length: 100 }, (_, index) => record(index * 2, 2, index % 3 === 0 ? 4 : 2)));
  await expectRowsAgree(200);
  // A state changed here behind the writer's back: the stored hash follows the row.
  await sql`UPDATE dossiers SET status = 9 WHERE province_code = '79' AND dossier_code = '79.2026.000001'`.execute(
    env.db,
  );
  await expectRowsAgree(200);
  const changed = await env.db
    .selectFrom('dossiers')
    .select('summary_digest')
    .where('province_code', '=', '79')
    .where('dossier_code', '=', '79.2026.000001')
    .executeTakeFirstOrThrow();
  expect(BigInt.asUintN(64, BigInt(changed.summary_digest))).toBe(
    entryHash({ dossierCode: '79.2026.000001', sourceVersion: 1, status: 9 }),
  );
});
