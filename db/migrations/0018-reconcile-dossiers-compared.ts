import { sql, type Kysely } from 'kysely';

/**
 * `reconcile_runs.source_dossiers`: how many dossiers the source holds in the buckets a run finished comparing — the
 * sum of the source side's counts (its top-level digest or listing of each bucket, or the dossiers its pages held).
 * With the run's mismatch counts it gives the service level "share of a province's dossiers in sync at the last
 * reconcile" (README, Reconciliation): compared = source_dossiers + extra_here (every dossier either side holds),
 * in sync = source_dossiers - missing_here - different_version - different_state. The source side, not ours,
 * because the province's system is the record: a copy that lost dossiers holds fewer of them, and counting our side
 * would call the rest of it all in sync. Runs recorded before this column have 0: no figure, not "none in sync".
 * A constant default makes the column free to add (no rewrite).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE reconcile_runs ADD COLUMN IF NOT EXISTS source_dossiers bigint NOT NULL DEFAULT 0`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE reconcile_runs DROP COLUMN IF EXISTS source_dossiers`.execute(db);
}
