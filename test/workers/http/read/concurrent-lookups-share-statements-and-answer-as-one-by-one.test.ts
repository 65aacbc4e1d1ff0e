import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { findDossier, findDossiers } from '../../../../db/queries/find-dossier.js';
import { upsertDossiers } from '../../../../db/queries/upsert-dossiers.js';
import type { Database } from '../../../../db/schema.js';
import { DossierLookups } from '../../../../workers/http/read/dossier-lookups.js';
import { dossierRecord } from '../../../support/records.js';
import { createTestEnvironment, type TestEnvironment } from '../../../support/test-environment.js';

// The lookup route's dossiers come through DossierLookups: lookups made while its statements are busy are answered
// together by one statement (findDossiers). Each answer must be exactly what findDossier gives for its key alone —
// the row, its history in order, nothing of another key — whether the key is found, absent, repeated or of another
// province; and many concurrent lookups must take fewer statements than lookups.

/**
 * A pool whose clients' late errors are heard: `destroy()` resolves while its clients still end, and the database's
 * drop (`DROP … WITH (FORCE)`) then terminates them — unheard, that error would be the next test file's.
 */
function quietPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max });
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

let env: TestEnvironment;
let counted: Kysely<Database>;
let statements = 0;

beforeAll(async () => {
  env = await createTestEnvironment();
  for (const provinceCode of ['01', '79']) {
    const first = Array.from({ length: 40 }, (_, n) =>
      dossierRecord({ provinceCode, sourceProvinceCode: provinceCode, dossierCode: `${provinceCode}.2026.${n}` }),
    );
    await upsertDossiers(env.db, first);
    // A second state of every third dossier: a history of two.
    await upsertDossiers(
      env.db,
      first
        .filter((_, n) => n % 3 === 0)
        .map((record) => ({ ...record, sourceVersion: 2, status: 4, observedAt: new Date().toISOString() })),
    );
  }
  counted = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: quietPool(env.config.DATABASE_URL, 2) }),
    log: () => void (statements += 1),
  });
});
afterAll(async () => {
  await counted?.destroy();
  await env?.cleanup();
});

const keys = [
  { provinceCode: '01', dossierCode: '01.2026.0' },
  { provinceCode: '79', dossierCode: '79.2026.3' },
  { provinceCode: '01', dossierCode: '01.2026.999' },
  { provinceCode: '01', dossierCode: '79.2026.3' },
  { provinceCode: '79', dossierCode: '79.2026.3' },
  { provinceCode: '79', dossierCode: '79.2026.4' },
];

it('answers each key of a batch as findDossier answers it alone', async () => {
  const alone = await Promise.all(keys.map((key) => findDossier(env.db, key.provinceCode, key.dossierCode)));
  expect(alone.filter(Boolean)).toHaveLength(4);
  expect(alone[0]!.history).toHaveLength(2);
  expect(await findDossiers(env.db, keys)).toEqual(alone);
  expect(await findDossiers(env.db, [])).toEqual([]);
});

it('answers many concurrent lookups with fewer statements than lookups, each its own dossier', async () => {
  const lookups = new DossierLookups(counted, { statementsInFlight: 2, maxBatch: 50 });
  const many = Array.from({ length: 300 }, (_, n) => {
    const provinceCode = n % 2 === 0 ? '01' : '79';
    return { provinceCode, dossierCode: `${provinceCode}.2026.${n % 45}` };
  });
  statements = 0;
  const answers = await Promise.all(many.map((key) => lookups.find(key.provinceCode, key.dossierCode)));
  expect(statements).toBeLessThan(many.length / 10);
  const alone = await Promise.all(many.map((key) => findDossier(env.db, key.provinceCode, key.dossierCode)));
  expect(answers).toEqual(alone);
  expect(answers.filter((answer) => answer === undefined)).toHaveLength(
    many.filter((key) => /\.4[0-4]$/.test(key.dossierCode)).length,
  );
});

it('fails every lookup of a statement that failed, and answers the next ones', async () => {
  const broken = new Kysely<Database>({
    dialect: new PostgresDialect({
      pool: quietPool(env.config.DATABASE_URL.replace(/\/[^/?]+(\?|$)/, '/no_such_database$1'), 1),
    }),
  });
  const failing = new DossierLookups(broken);
  const outcomes = await Promise.allSettled(keys.map((key) => failing.find(key.provinceCode, key.dossierCode)));
  expect(outcomes.every((outcome) => outcome.status === 'rejected')).toBe(true);
  await broken.destroy();
  const working = new DossierLookups(env.db);
  expect((await working.find('01', '01.2026.1'))?.dossierCode).toBe('01.2026.1');
});
