import type { Kysely } from 'kysely';
import { insertAuditEvents } from '../../db/queries/audit-events.js';
import { markFailedBatches as markFailedBatchRows } from '../../db/queries/failed-batches.js';
import type { Database } from '../../db/schema.js';
import { actorColumns, connectorAuditColumns, type Actor } from './audit.js';

/**
 * Marks failed batches retried or discarded (only those still `failed` change); returns the ids that did. Recorded
 * in the same transaction, one audit event per connector, with the batch ids.
 */
export async function markFailedBatches(
  db: Kysely<Database>,
  ids: readonly string[],
  { state, actor }: { state: 'retried' | 'discarded'; actor: Actor },
): Promise<string[]> {
  if (ids.length === 0) return [];
  return db.transaction().execute(async (trx) => {
    const marked = await markFailedBatchRows(trx, ids, state);
    const byConnector = new Map<string, string[]>();
    for (const { id, connectorId } of marked)
      byConnector.set(connectorId, [...(byConnector.get(connectorId) ?? []), id]);
    const events = [];
    for (const [connectorId, batchIds] of byConnector)
      events.push({
        ...actorColumns(actor),
        action: state === 'retried' ? 'failed_batch.retry' : 'failed_batch.discard',
        ...(await connectorAuditColumns(trx, connectorId)),
        details: { failedBatches: batchIds.length, ids: batchIds },
      });
    await insertAuditEvents(trx, events);
    return marked.map(({ id }) => id);
  });
}
