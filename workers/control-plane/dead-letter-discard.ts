import type { Kysely } from 'kysely';
import { insertAuditEvents } from '../../db/queries/audit-events.js';
import { discardDeadLettersByConnector, type DeadLetterFilter } from '../../db/queries/dead-letters.js';
import type { Database } from '../../db/schema.js';
import { actorColumns, connectorAuditColumns, type Actor } from './audit.js';

/**
 * Marks every `new` letter matching a filter as discarded (kept, not deleted); returns how many. Recorded in the
 * same transaction, one audit event per connector whose letters were discarded (so a province key sees its own).
 */
export async function discardDeadLetters(
  db: Kysely<Database>,
  filter: DeadLetterFilter,
  { actor }: { actor: Actor },
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const discarded = await discardDeadLettersByConnector(trx, filter);
    const events = [];
    for (const { connectorId, count } of discarded)
      events.push({
        ...actorColumns(actor),
        action: 'dead_letter.discard',
        ...(await connectorAuditColumns(trx, connectorId)),
        details: { deadLetters: count },
      });
    await insertAuditEvents(trx, events);
    return discarded.reduce((sum, { count }) => sum + count, 0);
  });
}
