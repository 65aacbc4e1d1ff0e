import type { Kysely } from 'kysely';
import { insertAuditEvents } from '../../db/queries/audit-events.js';
import {
  listFailedBatches,
  markFailedBatches as markFailedBatchRows,
  type FailedBatchFilter,
} from '../../db/queries/failed-batches.js';
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

/**
 * The ids of every batch still `failed` that matches a filter (whatever state it names), oldest first, read a page
 * at a time: what a retry or a discard is about.
 */
export async function* waitingFailedBatchIds(db: Kysely<Database>, filter: FailedBatchFilter): AsyncGenerator<string> {
  const waiting: FailedBatchFilter = { ...filter, state: 'failed' };
  let afterId: string | undefined;
  for (;;) {
    const page = await listFailedBatches(db, waiting, { afterId, limit: 100 });
    if (page.length === 0) return;
    for (const row of page) yield row.id;
    afterId = page.at(-1)!.id;
  }
}
