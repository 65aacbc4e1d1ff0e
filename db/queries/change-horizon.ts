import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** How far behind the oldest open transaction's start the horizon is. */
export const horizonMarginMs = 1_000;

/**
 * The `application_name` of a transaction that never writes `dossiers` (the statistics refresh): it does not hold the
 * horizon back, so a long refresh does not stall the change feed.
 */
export const dossierReaderName = 'dossier-sync dossier reader';

/**
 * The change horizon: every row of `dossiers` with `synced_at` before it is committed and visible, and no row written
 * from now on can have a `synced_at` before it. Readers that walk `dossiers` by `synced_at` (the change feed, the
 * statistics refresh) stop at the horizon so that no row is skipped.
 *
 * Why it is needed: the writer sets `synced_at = now()`, which is its transaction's *start*; a transaction that
 * started earlier can commit later, so a reader that went past `synced_at = t` could miss rows of a transaction
 * still open at `t`. The horizon is the start of the oldest transaction open in this database (other than the
 * caller's; autovacuum and other background workers never write dossiers), or the present when none is.
 *
 * It is a second earlier still: a transaction's start time is taken a moment before Postgres shows the transaction in
 * `pg_stat_activity`, so a horizon asked in that moment would not be held back by it. A second behind, a writer would
 * have to stall a whole second between those two steps (or the clock step back a second) for a row to be passed.
 *
 * A transaction that only reads `dossiers` declares itself with `declareDossierReader` and is left out.
 *
 * Ask it in a statement of its own, before the statement that reads rows: a transaction absent from
 * `pg_stat_activity` here has committed before it, so the next statement's snapshot sees its rows.
 */
export async function changeHorizon(db: Kysely<Database>): Promise<Date> {
  const { rows } = await sql<{ horizon: Date }>`
    SELECT coalesce(min(xact_start), statement_timestamp()) AS horizon
    FROM pg_stat_activity
    WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
      AND xact_start IS NOT NULL AND application_name IS DISTINCT FROM ${dossierReaderName}
  `.execute(db);
  return new Date(rows[0]!.horizon.getTime() - horizonMarginMs);
}

/**
 * Declares the current transaction one that never writes `dossiers`, so it does not hold the change horizon back (until
 * it ends: the name is set for the transaction only).
 */
export async function declareDossierReader(trx: Kysely<Database>): Promise<void> {
  await sql`SELECT set_config('application_name', ${dossierReaderName}, true)`.execute(trx);
}
