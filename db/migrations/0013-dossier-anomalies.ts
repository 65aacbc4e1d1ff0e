import { sql, type Kysely } from 'kysely';

/**
 * Anomalies (issue #13): what a province's system did that our status model (domain.md) does not expect. The
 * province's system is the record, so an unexpected transition is still applied; a source version that went
 * backwards is not applied (the writer never goes backwards) but is kept here; a dossier the source no longer has
 * is found by reconciliation. Rows are facts observed, never personal data: codes, statuses and versions only.
 *
 * `status_transition_allowed(from, to)` is domain.md's transition model in one place, so the writer's set-based
 * check and any report read the same rule. A repeat of a status is an update, not a transition: allowed.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION status_transition_allowed(from_status integer, to_status integer) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT from_status = to_status OR CASE from_status
        WHEN 1 THEN to_status IN (2, 3, 4, 7)
        WHEN 2 THEN to_status IN (4, 5, 6, 7, 8, 9)
        WHEN 4 THEN to_status IN (5, 6, 7, 8, 9)
        WHEN 5 THEN to_status IN (2, 4, 6, 7, 8, 9)
        WHEN 6 THEN to_status IN (4, 7, 8, 9)
        WHEN 8 THEN to_status IN (4)
        WHEN 9 THEN to_status IN (10, 4)
        ELSE false
      END
    $$`.execute(db);
  await sql`
    CREATE TABLE dossier_anomalies (
      id             bigserial PRIMARY KEY,
      -- The dossier's current (2025) province and its code, as stored in dossiers.
      province_code  text NOT NULL,
      dossier_code   text NOT NULL,
      connector_id   text NOT NULL,
      kind           text NOT NULL CHECK (kind IN ('unexpected_transition', 'version_backwards', 'disappeared')),
      -- unexpected_transition: the stored status and the one applied; version_backwards: the stored status and
      -- the refused one; disappeared: the stored status.
      from_status    smallint,
      to_status      smallint,
      -- The version stored when it was seen, and the one the source sent (NULL for disappeared).
      stored_version bigint,
      source_version bigint,
      -- The reconcile run that found it (disappeared, and repairs); NULL when the writer saw it in a batch.
      reconcile_run_id bigint,
      detected_at    timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX dossier_anomalies_connector ON dossier_anomalies (connector_id, id)`.execute(db);
  await sql`CREATE INDEX dossier_anomalies_dossier ON dossier_anomalies (province_code, dossier_code)`.execute(db);
  // What the writer saw in a batch is recorded once however often the batch is delivered: one row per dossier, kind,
  // source version and status sent. The writer inserts with ON CONFLICT DO NOTHING on this index; a reconcile run's
  // rows (reconcile_run_id set) are not in it, so its own inserts never meet the writer's.
  await sql`
    CREATE UNIQUE INDEX dossier_anomalies_seen_once
    ON dossier_anomalies (province_code, dossier_code, kind, source_version, to_status)
    WHERE reconcile_run_id IS NULL`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS dossier_anomalies`.execute(db);
  await sql`DROP FUNCTION IF EXISTS status_transition_allowed(integer, integer)`.execute(db);
}
