import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { ProvinceSimulator } from '../../scripts/tools/simulator/province-simulator.js';

/** How the `dossiers` table differs from the simulator's truth. */
export interface TruthComparison {
  /** Well-formed dossiers of the simulator. */
  expected: number;
  missing: number;
  /** Rows whose status or version is not the simulator's. */
  different: number;
  /** Rows the simulator does not have (or has only as malformed). */
  extra: number;
  examples: string[];
}

/**
 * Compares every well-formed simulated dossier's status and version with its row. Provinces read through a
 * dialect without a version counter (`versionIsUpdateTime`) are compared on the update time instead.
 */
export async function compareWithTruth(
  db: Kysely<Database>,
  simulator: ProvinceSimulator,
  versionIsUpdateTime: readonly string[] = [],
): Promise<TruthComparison> {
  const rows = await db
    .selectFrom('dossiers')
    .select(['province_code', 'dossier_code', 'status', 'source_version'])
    .execute();
  const stored = new Map(rows.map((row) => [`${row.province_code}/${row.dossier_code}`, row]));
  const result: TruthComparison = { expected: 0, missing: 0, different: 0, extra: 0, examples: [] };
  const seen = new Set<string>();
  for (const truth of simulator.truth()) {
    if (truth.malformed) continue;
    result.expected += 1;
    const key = `${truth.provinceCode}/${truth.dossierCode}`;
    seen.add(key);
    const row = stored.get(key);
    if (!row) {
      result.missing += 1;
      if (result.examples.length < 5) result.examples.push(`${key} missing`);
    } else if (
      row.status !== truth.status ||
      Number(row.source_version) !==
        (versionIsUpdateTime.includes(truth.provinceCode) ? Date.parse(truth.updatedAt) : truth.version)
    ) {
      result.different += 1;
      if (result.examples.length < 5)
        result.examples.push(
          `${key}: stored ${row.status} v${row.source_version}, truth ${truth.status} v${truth.version}`,
        );
    }
  }
  result.extra = rows.length - seen.size;
  return result;
}

/**
 * Dossier versions with more than one history row. The simulator gives every state its own version, so any
 * such row is the same state recorded twice (a repeat read, a retried batch): must be 0.
 */
export async function duplicateHistoryRows(db: Kysely<Database>): Promise<number> {
  const { rows } = await sql<{ duplicates: string }>`
    SELECT count(*) AS duplicates FROM (
      SELECT 1 FROM dossier_events GROUP BY province_code, dossier_code, source_version HAVING count(*) > 1
    ) d`.execute(db);
  return Number(rows[0]?.duplicates ?? 0);
}
