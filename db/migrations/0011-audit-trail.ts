import { sql, type Kysely } from 'kysely';

/**
 * The audit trail (issue #12): one row per change made through the admin API or `fleet` — who (a key or `cli` with
 * the operating-system user), what, on which connector or key, and for a definition change the hash of the
 * definition before and after. Never a secret and never personal data: hashes are of definitions, which hold secrets
 * only as references, and `details` holds counts.
 *
 * Append-only by a trigger, not by privileges: the fleet's own role creates and so owns the table, and an owner can
 * always grant itself back what was revoked from it (or ALTER and DROP the table), so a REVOKE does not bind the one
 * role that writes here. A trigger refuses UPDATE, DELETE and TRUNCATE whoever asks; only dropping the trigger
 * (a schema change, visible in the migration history) would lift it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE audit_events (
      id                     bigserial PRIMARY KEY,
      at                     timestamptz NOT NULL DEFAULT now(),
      actor_kind             text NOT NULL CHECK (actor_kind IN ('api_key', 'cli')),
      -- The key's id, or the operating-system user of a fleet command.
      actor_id               text NOT NULL,
      actor_name             text NOT NULL,
      action                 text NOT NULL,
      connector_id           text,
      -- The connector's current (2025) province code when the change was made: what a province key filters by.
      province_code          text,
      -- The key a key change was about.
      api_key_id             bigint,
      -- sha256 (hex) of the canonical definition JSON (secrets as references only), for a definition change.
      definition_hash_before text,
      definition_hash_after  text,
      -- Counts and settings of the change (dead letters replayed, grace seconds): never a secret or personal data.
      details                jsonb NOT NULL DEFAULT '{}'
    )`.execute(db);
  await sql`CREATE INDEX audit_events_connector ON audit_events (connector_id, id)`.execute(db);
  await sql`CREATE INDEX audit_events_province ON audit_events (province_code, id)`.execute(db);

  await sql`
    CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
    END
    $$`.execute(db);
  await sql`
    CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`.execute(db);
  await sql`
    CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()`.execute(db);
  // For any other role given access later (a reporting role): the owner is bound by the trigger above.
  await sql`REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS audit_events`.execute(db);
  await sql`DROP FUNCTION IF EXISTS audit_events_append_only()`.execute(db);
}
