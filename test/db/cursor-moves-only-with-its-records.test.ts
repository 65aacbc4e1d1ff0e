import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { DossierStatus } from '../../connectors/sdk/dossier-status.js';
import { saveConnector } from '../../db/queries/connectors.js';
import { readCursor } from '../../db/queries/sync-cursors.js';
import { writeBatch } from '../../workers/writer/write-batch.js';
import type { IngestBatch } from '../../workers/queue/queues.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';
import { dossierRecord } from '../support/records.js';

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
  await saveConnector(env.db, {
    id: 'test',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: {},
    pollIntervalMs: 1000,
  });
});
afterAll(async () => env.cleanup());
beforeEach(async () => {
  await sql`TRUNCATE dossiers, dossier_events, dead_letters, sync_cursors`.execute(env.db);
});

const page = (n: number) => ({ updatedSince: `2026112700000${n}`, afterCode: `01.2026.00000${n}` });
const batch = (n: number, overrides: Partial<IngestBatch> = {}): IngestBatch => ({
  origin: 'poll',
  connectorId: 'test',
  provinceCode: '01',
  records: [dossierRecord({ dossierCode: `01.2026.00000${n}` })],
  deadLetters: [],
  cursor: { before: n === 1 ? null : page(n - 1), after: page(n) },
  ...overrides,
});
const stored = async () =>
  Number((await sql<{ n: string }>`SELECT count(*) AS n FROM dossiers`.execute(env.db)).rows[0]!.n);

it('moves the cursor page by page, in the transaction that stores the page', async () => {
  expect(await writeBatch(env.db, batch(1))).toMatchObject({ cursorMoved: true });
  expect(await writeBatch(env.db, batch(2))).toMatchObject({ cursorMoved: true });
  expect(await readCursor(env.db, 'test')).toEqual(page(2));
});

it('leaves the cursor and everything else untouched when the transaction fails half way', async () => {
  await writeBatch(env.db, batch(1));
  // A failure a retry may fix (not a data error, which would isolate the record instead), met half way through.
  await sql`
    CREATE FUNCTION fail_half_way() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'failing half way' USING ERRCODE = '40001';
    END $$`.execute(env.db);
  await sql`CREATE TRIGGER fail_half_way AFTER INSERT ON dossier_events FOR EACH ROW WHEN (NEW.dossier_code = '01.2026.000003') EXECUTE FUNCTION fail_half_way()`.execute(
    env.db,
  );
  try {
    const poisoned = batch(2, {
      records: [
        dossierRecord({ dossierCode: '01.2026.000002' }),
        dossierRecord({ dossierCode: '01.2026.000003', status: 3 as DossierStatus }),
      ],
      deadLetters: [
        {
          connectorId: 'test',
          provinceCode: '01',
          dossierCode: 'x',
          reason: 'bad_date',
          message: 'm',
          rawPayload: {},
          receivedAt: new Date().toISOString(),
        },
      ],
    });
    await expect(writeBatch(env.db, poisoned)).rejects.toThrow(/failing half way/);
    expect(await readCursor(env.db, 'test')).toEqual(page(1));
    expect(await stored()).toBe(1);
    expect(await env.db.selectFrom('dead_letters').selectAll().execute()).toHaveLength(0);
  } finally {
    await sql`DROP TRIGGER fail_half_way ON dossier_events`.execute(env.db);
  }
});

it('a record the database refuses costs only itself: the rest and the cursor commit (guarantee 4)', async () => {
  await writeBatch(env.db, batch(1));
  const poisoned = batch(2, {
    records: [
      dossierRecord({ dossierCode: '01.2026.000002' }),
      dossierRecord({ dossierCode: '01.2026.000003', status: 11 as DossierStatus }),
    ],
  });
  expect(await writeBatch(env.db, poisoned)).toMatchObject({
    inserted: 1,
    unstorable: 1,
    deadLetters: 1,
    cursorMoved: true,
  });
  expect(await readCursor(env.db, 'test')).toEqual(page(2));
  expect(await env.db.selectFrom('dead_letters').select(['dossier_code', 'reason']).execute()).toEqual([
    { dossier_code: '01.2026.000003', reason: 'unstorable' },
  ]);
});

it('never moves the cursor past a page not yet committed, nor backwards for a stale batch', async () => {
  await writeBatch(env.db, batch(1));
  // Page 3 committed before page 2: its records are stored, the cursor waits.
  expect(await writeBatch(env.db, batch(3))).toMatchObject({ cursorMoved: false });
  expect(await readCursor(env.db, 'test')).toEqual(page(1));
  await writeBatch(env.db, batch(2));
  expect(await readCursor(env.db, 'test')).toEqual(page(2));
  // A repeat of page 1 (a retried job from before a crash) cannot pull it back.
  expect(await writeBatch(env.db, batch(1))).toMatchObject({ cursorMoved: false });
  expect(await writeBatch(env.db, batch(2))).toMatchObject({ cursorMoved: false });
  expect(await readCursor(env.db, 'test')).toEqual(page(2));
  expect(await stored()).toBe(3);
});
