import { expect } from 'vitest';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/schema.js';
import type { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import type { DriftReport } from '../../../scripts/tools/simulator/drift-injection.js';

/** Every kind of drift at once, on distinct dossiers: what one run must then find. */
export function injectEveryKind(simulator: ProvinceSimulator, province: string) {
  const reports: DriftReport[] = [
    simulator.injectDrift(province, 'silent-change', { count: 14 }),
    simulator.injectDrift(province, 'lost-push', { count: 11, lookbackSeconds: 3 }),
    simulator.injectDrift(province, 'rewrite-history', { count: 9 }),
    simulator.injectDrift(province, 'delete', { count: 7 }),
  ];
  const codes = reports.flatMap((report) => report.dossierCodes);
  // Distinct dossiers (seeded): each one drifted once, so the counts add up.
  expect(new Set(codes).size).toBe(codes.length);
  const [silent, lost, rewritten, deleted] = reports as [DriftReport, DriftReport, DriftReport, DriftReport];
  return {
    expected: {
      differentVersion: silent.dossierCodes.length + lost.dossierCodes.length + rewritten.dossierCodes.length,
      extraHere: deleted.dossierCodes.length,
      missingHere: 0,
      differentState: 0,
      repaired: silent.dossierCodes.length + lost.dossierCodes.length,
    },
    rewritten: rewritten.dossierCodes,
    deleted: deleted.dossierCodes,
  };
}

/** The anomalies a run recorded, by kind, as sorted codes. */
export async function anomalyCodes(db: Kysely<Database>, runId: string) {
  const rows = await db
    .selectFrom('dossier_anomalies')
    .select(['dossier_code', 'kind'])
    .where(sql<string>`reconcile_run_id::text`, '=', runId)
    .execute();
  const of = (kind: string) =>
    rows
      .filter((row) => row.kind === kind)
      .map((row) => row.dossier_code)
      .sort();
  return { disappeared: of('disappeared'), versionBackwards: of('version_backwards') };
}
