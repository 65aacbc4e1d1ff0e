import { sql, type Kysely } from 'kysely';

/**
 * The connectors' webhook secrets (Standard Webhooks `whsec_…`), encrypted at rest with AES-256-GCM under the
 * SECRETS_KEY of the environment: the database alone never holds a usable secret. A connector has at most one
 * current secret (`expires_at` null) and, during a rotation's grace period, older ones still accepted until
 * their `expires_at`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE webhook_secrets (
      id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      connector_id text NOT NULL REFERENCES connectors (id),
      -- AES-256-GCM: 12-byte nonce, 16-byte tag, then the ciphertext; the connector id is its associated data.
      sealed       bytea NOT NULL CHECK (length(sealed) > 28),
      created_at   timestamptz NOT NULL DEFAULT now(),
      -- null: the current secret; otherwise accepted until then (a rotation's grace period).
      expires_at   timestamptz
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX webhook_secrets_one_current ON webhook_secrets (connector_id) WHERE expires_at IS NULL`.execute(
    db,
  );
  await sql`CREATE INDEX webhook_secrets_by_connector ON webhook_secrets (connector_id, expires_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS webhook_secrets`.execute(db);
}
