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
 * The expression uses immutable functions only (a generated column requires it) and no function of ours, so it is
 * evaluated inline: the text's bytes are taken by `decode(…, 'escape')` with backslashes (chr(92)) doubled (convert_to,
 * the usual way, is only stable; wrapped in a function declared immutable, that function cannot be inlined and its
 * per-row call cost a third of the writer's update throughput in bench-writer-digest). Those bytes are UTF-8 — what
 * summary-hash.ts hashes — only in a UTF-8 database: the migration refuses any other encoding.
 *
 * Cost: adding a stored generated column rewrites `dossiers` (every partition, under an exclusive lock: minutes
 * for tens of millions of rows — run it in a maintenance window); then one SHA-256 per inserted or updated row in
 * the writer's statement, and 8 more bytes per entry of the update-time index (measured in the README).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{ encoding: string }>`
    SELECT pg_encoding_to_char(encoding) AS encoding FROM pg_database WHERE datname = current_database()`.execute(db);
  if (rows[0]?.encoding !== 'UTF8')
    throw new Error(
      `the database's encoding is ${rows[0]?.encoding ?? 'unknown'}: summary_digest hashes the codes' UTF-8 bytes, ` +
        'so the database must be UTF8',
    );
  await sql`
    ALTER TABLE dossiers ADD COLUMN IF NOT EXISTS summary_digest bigint NOT NULL
    GENERATED ALWAYS AS (('x' || encode(substring(sha256(decode(replace(
      dossier_code || chr(10) || source_version::text || chr(10) || status::text, chr(92), chr(92) || chr(92)),
      'escape')) FROM 1 FOR 8), 'hex'))::bit(64)::bigint) STORED`.execute(db);
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
}
