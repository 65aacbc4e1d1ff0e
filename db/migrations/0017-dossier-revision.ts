import { sql, type Kysely } from 'kysely';

/**
 * `dossiers.revision`: how many states the central row has held, 1 when inserted. The writer tells an insert from
 * an update by it, not by its statement's snapshot: two writers committing one new dossier at once (two pages in
 * flight, the dossier in both) both see no row, and the second, having waited on the first's insert, updates it.
 * Counting by the snapshot counted that dossier inserted twice. Postgres cannot return `xmax` (the usual test) from
 * a partitioned table. A constant default makes the column free to add to a table of any size (no rewrite).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS revision integer NOT NULL DEFAULT 1`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE dossiers DROP COLUMN IF EXISTS revision`.execute(db);
}
