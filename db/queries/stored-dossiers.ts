import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/**
 * The dossiers whose stored state a connector wrote, counted exactly. Its records may carry their own province,
 * so every partition is counted; this reads the rows (no index on the connector), which is for an operator's
 * status, not for a hot path.
 */
export async function countStoredDossiers(db: Kysely<Database>, connectorId: string): Promise<number> {
  const row = await db
    .selectFrom('dossiers')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('connector_id', '=', connectorId)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}
