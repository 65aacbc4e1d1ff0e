import { sql, type Kysely } from 'kysely';

/**
 * The change feed's index: `GET /v1/dossiers` walks dossiers in (synced_at, province_code, dossier_code) order from a
 * cursor, so a page is an index range scan (one per partition, merged) and never a sort of the table. On the
 * partitioned table it is one index per partition, created with it.
 *
 * What it costs the writer: every insert adds an entry to it, and every update too — synced_at is set on each
 * update, so no update of a dossier can be HOT any more (an indexed column changes): each one writes a new entry in
 * this index and in the primary key, besides the new heap tuple. `fleet bench` before and after measures it.
 *
 * No index on alt_dossier_code: the lookup finds a dossier by the code the feed hands the portal (`MaHoSo`); the
 * alternative code (`MaHoSoKhac`) is answered, not searched, so no update pays for a second partial index.
 *
 * Built inside the migration's transaction (a partitioned index cannot be built CONCURRENTLY), so on a table that
 * already holds millions of dossiers it holds the writer back for the build; there, build each partition's index
 * CONCURRENTLY by hand first and this statement attaches them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX IF NOT EXISTS dossiers_change_feed ON dossiers (synced_at, province_code, dossier_code)`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX IF EXISTS dossiers_change_feed`.execute(db);
}
