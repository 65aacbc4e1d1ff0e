import { sql, type Kysely } from 'kysely';

/**
 * The connector registry: each connector keeps the definition it was registered with (secrets are references
 * only, so it is safe to store and show), and the admin API's keys, stored only as SHA-256 hashes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE connectors ADD COLUMN description text, ADD COLUMN definition jsonb`.execute(db);

  await sql`
    CREATE TABLE api_keys (
      id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
      scope        text NOT NULL CHECK (scope IN ('admin', 'read')),
      -- SHA-256 of the key; the key itself is shown once at creation and never stored.
      key_hash     bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
      -- The first 8 bytes of the hash, hex: finds the candidate row, then the whole hash is compared in constant time.
      hash_prefix  text NOT NULL,
      created_at   timestamptz NOT NULL DEFAULT now(),
      revoked_at   timestamptz,
      last_used_at timestamptz
    )`.execute(db);
  await sql`CREATE INDEX api_keys_by_hash_prefix ON api_keys (hash_prefix)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS api_keys`.execute(db);
  await sql`ALTER TABLE connectors DROP COLUMN IF EXISTS definition, DROP COLUMN IF EXISTS description`.execute(db);
}
