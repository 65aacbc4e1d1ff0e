import { sql, type Kysely } from 'kysely';

/** The connector's circuit breaker state as the pollers last saw it, for `fleet connector list`. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE connectors ADD COLUMN breaker_state text CHECK (breaker_state IN ('closed', 'half_open', 'open'))`.execute(
    db,
  );
  await sql`ALTER TABLE connectors ADD COLUMN breaker_changed_at timestamptz`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE connectors DROP COLUMN breaker_changed_at, DROP COLUMN breaker_state`.execute(db);
}
