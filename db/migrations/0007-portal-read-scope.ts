import { sql, type Kysely } from 'kysely';

/**
 * The read API's scope is named as DESIGN.md names it, `portal:read`: the national portal is the one reader.
 * Keys made with the old name `read` keep working under the new one.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_scope_check`.execute(db);
  await sql`UPDATE api_keys SET scope = 'portal:read' WHERE scope = 'read'`.execute(db);
  await sql`ALTER TABLE api_keys ADD CONSTRAINT api_keys_scope_check CHECK (scope IN ('admin', 'portal:read'))`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_scope_check`.execute(db);
  await sql`UPDATE api_keys SET scope = 'read' WHERE scope = 'portal:read'`.execute(db);
  await sql`ALTER TABLE api_keys ADD CONSTRAINT api_keys_scope_check CHECK (scope IN ('admin', 'read'))`.execute(db);
}
