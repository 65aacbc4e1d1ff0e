import { sql, type Kysely } from 'kysely';

/**
 * `dossiers.summary_digest`: each dossier's summary hash (connectors/sdk/summary-hash.ts: the first 8 bytes of
 * SHA-256 of `code\nversion\nstatus`, read as a signed bigint), stored with the row, and in the index a reconcile
 * reads, so that our digest of a scope is an index-only sum instead of a SHA-256 of every dossier in it at every
 * reconcile (README, Reconciliation: that hashing was most of a run's time).
 *
 * A generated column, not a value the writer sends: Postgres computes it from the row itself on every insert and
 * update, whatever changed the row (the writer, a repair, an operator's UPDATE), so it can never disagree with the
 * (code, version, status) it summarises — a stored copy changed behind the writer's back still shows in the digest.
 * `dossier_summary_digest` is declared IMMUTABLE (a generated column requires it) although convert_to is only
 * stable: its result depends on the database's server encoding, which a database never changes.
 *
 * Cost: adding a stored generated column rewrites `dossiers` (every partition, under an exclusive lock: minutes
 * for tens of millions of rows — run it in a maintenance window); then one SHA-256 per inserted or updated row in
 * the writer's statement, and 8 more bytes per entry of the update-time index (measured in the README). With
 * Citus the function must exist on the workers (Citus 11+ propagates a CREATE FUNCTION run on the coordinator).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION dossier_summary_digest(code text, version bigint, status smallint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN ('x' || encode(substring(sha256(convert_to(code || E'\\n' || version::text || E'\\n' || status::text, 'UTF8'))
      FROM 1 FOR 8), 'hex'))::bit(64)::bigint`.execute(db);
  await sql`
    ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS summary_digest bigint NOT NULL
    GENERATED ALWAYS AS (dossier_summary_digest(dossier_code, source_version, status)) STORED`.execute(db);
  // The update-time index with the digest: a scope's digest is an index-only scan (visibility map permitting).
  await sql`
    CREATE INDEX IF NOT EXISTS dossiers_by_update_time_digest ON dossiers (province_code, source_updated_at)
    INCLUDE (dossier_code, source_version, status, summary_digest)`.execute(db);
  await sql`DROP INDEX IF EXISTS dossiers_by_update_time`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE INDEX IF NOT EXISTS dossiers_by_update_time ON dossiers (province_code, source_updated_at)
    INCLUDE (dossier_code, source_version, status)`.execute(db);
  await sql`DROP INDEX IF EXISTS dossiers_by_update_time_digest`.execute(db);
  await sql`ALTER TABLE dossiers DROP COLUMN IF EXISTS summary_digest`.execute(db);
  await sql`DROP FUNCTION IF EXISTS dossier_summary_digest(text, bigint, smallint)`.execute(db);
}
