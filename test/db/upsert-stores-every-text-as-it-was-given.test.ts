import { afterAll, beforeAll, expect, it } from 'vitest';
import { upsertDossiers } from '../../db/queries/upsert-dossiers.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';
import { dossierRecord } from '../support/records.js';

// The upsert's rows travel as one JSON parameter that Postgres reads with json_to_recordset: every text must come
// out of the table exactly as it went in, whatever JSON has to escape on the way (quotes, backslashes, control
// characters, text that looks like an escape) and whatever Unicode it holds (composed Vietnamese, astral characters).

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => env.cleanup());

const texts = [
  'Sở Tư pháp — Hồ sơ đã tiếp nhận',
  'quote " and backslash \\ and slash /',
  'a literal \\u00e9 and \\n, not escapes',
  'tab\there, newline\nthere, carriage\rreturn',
  'control \u0001\u001f and delete \u007f',
  'astral 𝔸 and 😀, combining e\u0301',
  '{"looks": ["like", "json"]}',
];

it('stores and returns each text unchanged', async () => {
  const records = texts.map((text, i) =>
    dossierRecord({
      dossierCode: `01.2026.${String(i).padStart(6, '0')}`,
      altDossierCode: text,
      sourceStatus: text,
      agencyCode: text,
    }),
  );
  const outcome = await upsertDossiers(env.db, records);
  expect(outcome).toMatchObject({ inserted: texts.length, events: texts.length });
  const stored = await env.db
    .selectFrom('dossiers')
    .select(['dossier_code', 'alt_dossier_code', 'source_status', 'agency_code'])
    .orderBy('dossier_code')
    .execute();
  expect(stored.map((row) => [row.alt_dossier_code, row.source_status, row.agency_code])).toEqual(
    texts.map((text) => [text, text, text]),
  );
  const history = await env.db.selectFrom('dossier_events').select('source_status').orderBy('dossier_code').execute();
  expect(history.map((row) => row.source_status)).toEqual(texts);
});
