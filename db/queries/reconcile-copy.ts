import { sql, type Kysely } from 'kysely';
import type { SummaryEntry, SummaryScope } from '../../connectors/sdk/connector.js';
import type { Database } from '../schema.js';

// Our side of a reconcile: the stored copy of a province summarised as a source summarises its own
// (connectors/sdk/summary-hash.ts): the same scope, the same count and order-independent hash, summed in SQL from
// each row's stored hash (summary_digest, a generated column) over the index dossiers_by_update_time_digest
// (migration 0019).

const modulus = 1n << 64n;

/** The WHERE of a scope: a province's dossiers updated in [updatedFrom, updatedTo), codes in [codeFrom, codeTo). */
function scopeFilter(provinceCode: string, scope: SummaryScope) {
  return sql`province_code = ${provinceCode}
    AND source_updated_at >= ${scope.updatedFrom} AND source_updated_at < ${scope.updatedTo}
    ${scope.codeFrom === null ? sql`` : sql`AND dossier_code >= ${scope.codeFrom}`}
    ${scope.codeTo === null ? sql`` : sql`AND dossier_code < ${scope.codeTo}`}`;
}

/**
 * The digest of our copy in a scope: the sum modulo 2^64 of the first 8 bytes (big-endian, unsigned) of SHA-256 of
 * `code\nversion\nstatus`. Each row stores its 8 bytes as a signed bigint (summary_digest, migration 0019), summed
 * as numeric: a signed value is congruent to its unsigned one modulo 2^64, so the sum reduced modulo 2^64 is the same.
 */
export async function storedDigest(
  db: Kysely<Database>,
  provinceCode: string,
  scope: SummaryScope,
): Promise<{ count: number; hash: string }> {
  const { rows } = await sql<{ count: string; total: string | null }>`
    SELECT count(*) AS count,
      sum(summary_digest)::text AS total
    FROM dossiers WHERE ${scopeFilter(provinceCode, scope)}`.execute(db);
  const total = BigInt(rows[0]?.total ?? '0');
  const hash = (((total % modulus) + modulus) % modulus).toString(16).padStart(16, '0');
  return { count: Number(rows[0]?.count ?? 0), hash };
}

/** How many dossiers of our copy a scope holds. */
export async function storedCount(db: Kysely<Database>, provinceCode: string, scope: SummaryScope): Promise<number> {
  const { rows } = await sql<{ count: string }>`
    SELECT count(*) AS count FROM dossiers WHERE ${scopeFilter(provinceCode, scope)}`.execute(db);
  return Number(rows[0]?.count ?? 0);
}

/** The listing of our copy in a scope, in code order. */
export async function storedEntries(
  db: Kysely<Database>,
  provinceCode: string,
  scope: SummaryScope,
): Promise<SummaryEntry[]> {
  const { rows } = await sql<{ dossier_code: string; source_version: string; status: number }>`
    SELECT dossier_code, source_version, status FROM dossiers WHERE ${scopeFilter(provinceCode, scope)}
    ORDER BY dossier_code`.execute(db);
  return rows.map((row) => ({
    dossierCode: row.dossier_code,
    sourceVersion: Number(row.source_version),
    status: row.status,
  }));
}

/** The median code of our copy in a scope (where to split it by code), or null when it holds fewer than 2. */
export async function storedMedianCode(
  db: Kysely<Database>,
  provinceCode: string,
  scope: SummaryScope,
  count: number,
): Promise<string | null> {
  if (count < 2) return null;
  const { rows } = await sql<{ dossier_code: string }>`
    SELECT dossier_code FROM dossiers WHERE ${scopeFilter(provinceCode, scope)}
    ORDER BY dossier_code OFFSET ${Math.floor(count / 2)} LIMIT 1`.execute(db);
  return rows[0]?.dossier_code ?? null;
}

/** Our stored (version, status) of some dossiers by code, wherever their update time is. */
export async function storedByCode(
  db: Kysely<Database>,
  provinceCode: string,
  codes: readonly string[],
): Promise<Map<string, SummaryEntry>> {
  const found = new Map<string, SummaryEntry>();
  for (let start = 0; start < codes.length; start += 5000) {
    const chunk = codes.slice(start, start + 5000);
    const rows = await db
      .selectFrom('dossiers')
      .select(['dossier_code', 'source_version', 'status'])
      .where('province_code', '=', provinceCode)
      .where('dossier_code', 'in', chunk)
      .execute();
    for (const row of rows)
      found.set(row.dossier_code, {
        dossierCode: row.dossier_code,
        sourceVersion: Number(row.source_version),
        status: row.status,
      });
  }
  return found;
}

/**
 * The digests of our copy in consecutive time slices of a scope, in one scan: slice i covers
 * [from + i·stepMs, from + (i+1)·stepMs), the last one clipped to the scope's end. Slices without dossiers are absent.
 */
export async function storedDigestsBySlice(
  db: Kysely<Database>,
  provinceCode: string,
  scope: SummaryScope,
  stepMs: number,
): Promise<Map<number, { count: number; hash: string }>> {
  const { rows } = await sql<{ slice: number; count: string; total: string }>`
    SELECT floor(date_part('epoch', source_updated_at - ${scope.updatedFrom}::timestamptz) * 1000 / ${stepMs}::float8)::int AS slice,
      count(*) AS count,
      sum(summary_digest)::text AS total
    FROM dossiers WHERE ${scopeFilter(provinceCode, scope)}
    GROUP BY 1`.execute(db);
  const digests = new Map<number, { count: number; hash: string }>();
  for (const row of rows) {
    const total = BigInt(row.total);
    digests.set(Number(row.slice), {
      count: Number(row.count),
      hash: (((total % modulus) + modulus) % modulus).toString(16).padStart(16, '0'),
    });
  }
  return digests;
}

/** A count and hash of our copy, the hash kept as a number so that digests of adjacent slices can be added. */
export interface StoredDigest {
  count: number;
  /** The sum modulo 2^64 of the dossiers' hashes. */
  sum: bigint;
}

/** A scope cut into consecutive time slices of `stepMs`, the last one clipped to the scope's end. */
export interface SlicedScope {
  scope: SummaryScope;
  stepMs: number;
}

/** Our digests of one sliced scope's slices, by slice index (slices without dossiers are absent). */
export type SliceDigests = { slice: number; digest: StoredDigest }[];

/** A digest's hash as the contract writes it: 16 lower-case hex digits. */
export function hashText(sum: bigint): string {
  return (((sum % modulus) + modulus) % modulus).toString(16).padStart(16, '0');
}

/** The scopes' bounds as the parallel arrays `unnest` reads. */
function scopeArrays(scopes: readonly SummaryScope[]) {
  return {
    froms: scopes.map((scope) => scope.updatedFrom.toISOString()),
    tos: scopes.map((scope) => scope.updatedTo.toISOString()),
    codeFroms: scopes.map((scope) => scope.codeFrom),
    codeTos: scopes.map((scope) => scope.codeTo),
  };
}

/**
 * The digests of our copy in many scopes, each cut in time slices, in one statement a part: every slice is one
 * range scan of the index dossiers_by_update_time_digest aggregated on its own (count and sum of the stored hashes,
 * a LATERAL subquery per slice), so no row is grouped, sorted or computed on — the index entries are only summed.
 * The scopes being disjoint, each dossier's stored hash is read once. JIT is off for the statement: at a million
 * dossiers the planner's estimate passed jit_above_cost and compiling the plan cost more than running it.
 *
 * Many slices are cut in `parts` runs of consecutive slices, each its own statement on its own connection, at once:
 * the statement is one backend's CPU (a million index entries summed in ~0.6 s), and the reconcile waits on it with
 * the other cores idle. Each part reads its own snapshot; the drill-down tolerates that as it tolerates the writer
 * committing between its levels (a dossier that moved between two parts' reads shows as a difference, drilled into
 * and found equal). Default 2; a part holds at least 64 slices.
 */
export async function storedSliceDigests(
  db: Kysely<Database>,
  provinceCode: string,
  sliced: readonly SlicedScope[],
  parts = 2,
): Promise<SliceDigests[]> {
  const result = sliced.map(() => [] as SliceDigests);
  if (sliced.length === 0) return result;
  const slices: SummaryScope[] = [];
  const owners: { parent: number; slice: number }[] = [];
  for (const [parent, { scope, stepMs }] of sliced.entries()) {
    const from = scope.updatedFrom.getTime();
    const to = scope.updatedTo.getTime();
    for (let start = from, slice = 0; start < to; start += stepMs, slice++) {
      slices.push({ ...scope, updatedFrom: new Date(start), updatedTo: new Date(Math.min(start + stepMs, to)) });
      owners.push({ parent, slice });
    }
  }
  const partSize = Math.ceil(slices.length / Math.max(1, Math.min(parts, Math.floor(slices.length / 64))));
  const runs: { first: number; rows: { i: string; count: string; total: string }[] }[] = [];
  for (let first = 0; first < slices.length; first += partSize) runs.push({ first, rows: [] });
  await Promise.all(
    runs.map(async (run) => {
      run.rows = await sliceDigestRows(db, provinceCode, slices.slice(run.first, run.first + partSize));
    }),
  );
  for (const { first, rows } of runs)
    for (const row of rows) {
      const { parent, slice } = owners[first + Number(row.i) - 1]!;
      result[parent]!.push({
        slice,
        digest: { count: Number(row.count), sum: ((BigInt(row.total) % modulus) + modulus) % modulus },
      });
    }
  return result;
}

/** One statement of storedSliceDigests: the count and sum of each slice that holds dossiers, `i` its 1-based place. */
async function sliceDigestRows(db: Kysely<Database>, provinceCode: string, slices: readonly SummaryScope[]) {
  const { froms, tos, codeFroms, codeTos } = scopeArrays(slices);
  return db.transaction().execute(async (trx) => {
    await sql`SET LOCAL jit = off`.execute(trx);
    return (
      await sql<{ i: string; count: string; total: string }>`
        SELECT p.i, d.count, d.total::text AS total
        FROM unnest(${froms}::timestamptz[], ${tos}::timestamptz[], ${codeFroms}::text[], ${codeTos}::text[])
          WITH ORDINALITY AS p(f, t, cf, ct, i)
        CROSS JOIN LATERAL (
          SELECT count(*) AS count, sum(summary_digest) AS total FROM dossiers
          WHERE province_code = ${provinceCode} AND source_updated_at >= p.f AND source_updated_at < p.t
            AND (p.cf IS NULL OR dossier_code >= p.cf) AND (p.ct IS NULL OR dossier_code < p.ct)) d
        WHERE d.count > 0`.execute(trx)
    ).rows;
  });
}

/** The listings of our copy in many scopes, in one statement (a range scan per scope): per scope, in code order. */
export async function storedEntriesIn(
  db: Kysely<Database>,
  provinceCode: string,
  scopes: readonly SummaryScope[],
): Promise<SummaryEntry[][]> {
  const result = scopes.map(() => [] as SummaryEntry[]);
  if (scopes.length === 0) return result;
  const { froms, tos, codeFroms, codeTos } = scopeArrays(scopes);
  const { rows } = await sql<{ parent: string; dossier_code: string; source_version: string; status: number }>`
    SELECT p.i AS parent, d.dossier_code, d.source_version, d.status
    FROM unnest(${froms}::timestamptz[], ${tos}::timestamptz[], ${codeFroms}::text[], ${codeTos}::text[])
      WITH ORDINALITY AS p(f, t, cf, ct, i)
    CROSS JOIN LATERAL (
      SELECT dossier_code, source_version, status FROM dossiers
      WHERE province_code = ${provinceCode} AND source_updated_at >= p.f AND source_updated_at < p.t
        AND (p.cf IS NULL OR dossier_code >= p.cf) AND (p.ct IS NULL OR dossier_code < p.ct)
      OFFSET 0) d
    ORDER BY p.i, d.dossier_code`.execute(db);
  for (const row of rows)
    result[Number(row.parent) - 1]!.push({
      dossierCode: row.dossier_code,
      sourceVersion: Number(row.source_version),
      status: row.status,
    });
  return result;
}
