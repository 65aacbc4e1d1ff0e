import { sql, type Kysely } from 'kysely';

/**
 * A key may be bound to provinces: `provinces` holds current (2025) codes, and such a key reaches only their
 * connectors, dossiers and statistics; NULL is a national key (operators), as every key made before this was.
 * An empty list would be a key that reaches nothing, which no one means to make: refused.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE api_keys ADD COLUMN provinces text[]`.execute(db);
  await sql`ALTER TABLE api_keys ADD CONSTRAINT api_keys_provinces_check
    CHECK (provinces IS NULL OR cardinality(provinces) > 0)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE api_keys DROP COLUMN provinces`.execute(db);
}
