import { sql, type Kysely } from 'kysely';

/**
 * The id of the master key each webhook secret is sealed with, derived by Postgres from the sealed form (`dsk2`,
 * then the 8-byte key id), so it cannot disagree with it: null for secrets sealed before keys had ids.
 * `fleet secrets rekey` looks for rows not on the newest key by it, and `fleet secrets status` counts them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE webhook_secrets ADD COLUMN key_id text GENERATED ALWAYS AS (
      CASE WHEN length(sealed) > 40 AND substring(sealed FROM 1 FOR 4) = decode('64736b32', 'hex')
        THEN encode(substring(sealed FROM 5 FOR 8), 'hex') END
    ) STORED`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE webhook_secrets DROP COLUMN IF EXISTS key_id`.execute(db);
}
