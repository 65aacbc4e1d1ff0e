import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { currentProvinces } from '../../../config/provinces.js';
import { dossierCode, dossiersPerProvince, seedDossiers } from '../../../scripts/tools/seed-dossiers.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => env.cleanup());

const now = new Date('2026-11-30T05:00:00Z');

it('seeds the dossiers the benchmark looks up, each with a history that ends in its current state', async () => {
  const first = await seedDossiers(env.db, { total: 100, chunk: 2, connections: 2, now });
  expect(first.dossiers).toBe(100);
  const before = await sql<{ province_code: string; dossier_code: string; content_hash: string }>`
    SELECT province_code, dossier_code, content_hash FROM dossiers ORDER BY 1, 2`.execute(env.db);

  // A top-up adds the next codes of each province and keeps what is there.
  const topUp = await seedDossiers(env.db, { total: 170, existing: 100, chunk: 2, connections: 2, now });
  expect(topUp.dossiers).toBe(70);
  const perProvince = await sql<{ province_code: string; n: number }>`
    SELECT province_code, count(*)::int AS n FROM dossiers GROUP BY 1 ORDER BY 1`.execute(env.db);
  expect(Object.fromEntries(perProvince.rows.map((row) => [row.province_code, row.n]))).toEqual(
    Object.fromEntries(dossiersPerProvince(170)),
  );
  for (const [code, n] of dossiersPerProvince(170)) {
    const codes = await sql<{ dossier_code: string }>`
      SELECT dossier_code FROM dossiers WHERE province_code = ${code}`.execute(env.db);
    expect(new Set(codes.rows.map((row) => row.dossier_code))).toEqual(
      new Set(Array.from({ length: n }, (_, i) => dossierCode(code, i + 1))),
    );
  }
  const kept = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM dossiers d
    JOIN (VALUES ${sql.join(before.rows.map((row) => sql`(${row.province_code}, ${row.dossier_code}, ${row.content_hash})`))})
      AS b (province_code, dossier_code, content_hash)
      USING (province_code, dossier_code, content_hash)`.execute(env.db);
  expect(kept.rows[0]!.n).toBe(100);

  // Every dossier: 1–4 states, versions 1…n, the last one the dossier's own; dates in order; finished iff 9 or 10.
  const wrong = await sql<{ dossier_code: string; problem: string }>`
    SELECT d.dossier_code, CASE
      WHEN h.states NOT BETWEEN 1 AND 4 THEN 'states'
      WHEN h.versions <> d.source_version THEN 'versions'
      WHEN l.status IS DISTINCT FROM d.status THEN 'last state'
      WHEN (d.finished_at IS NOT NULL) <> (d.status IN (9, 10)) THEN 'finished'
      WHEN d.finished_at < d.received_at OR d.source_updated_at < coalesce(d.received_at, d.submitted_at)
        OR d.observed_at < d.source_updated_at OR d.synced_at < d.observed_at OR d.synced_at > ${now}::timestamptz
        THEN 'dates'
      WHEN d.connector_id <> 'bench-' || d.province_code THEN 'connector'
      END AS problem
    FROM dossiers d
    CROSS JOIN LATERAL (
      SELECT count(*) AS states, count(DISTINCT source_version) AS versions FROM dossier_events e
      WHERE (e.province_code, e.dossier_code) = (d.province_code, d.dossier_code)
        AND e.source_version BETWEEN 1 AND d.source_version) h
    LEFT JOIN dossier_events l ON (l.province_code, l.dossier_code, l.source_version, l.content_hash)
      = (d.province_code, d.dossier_code, d.source_version, d.content_hash)`.execute(env.db);
  expect(wrong.rows).toHaveLength(170);
  expect(wrong.rows.filter((row) => row.problem !== null)).toEqual([]);
  const events = await sql<{ n: number }>`SELECT count(*)::int AS n FROM dossier_events`.execute(env.db);
  expect(events.rows[0]!.n).toBe(first.events + topUp.events);

  const connectors = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM connectors JOIN connector_activity ON connector_id = id`.execute(env.db);
  expect(connectors.rows[0]!.n).toBe(currentProvinces.length);
});
