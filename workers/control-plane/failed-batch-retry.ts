import type { Kysely } from 'kysely';
import { findFailedBatch } from '../../db/queries/failed-batches.js';
import type { Database } from '../../db/schema.js';
import type { IngestQueue } from '../queue/ingest-queue.js';
import type { Actor } from './audit.js';
import { markFailedBatches } from './failed-batch-marks.js';

/**
 * Retries one failed batch: hands it to the ingest queue of the province that held it, as it was kept, and marks it
 * retried once Redis has acknowledged it (recorded in the audit trail with the mark). The writer then commits it
 * like any batch (its cursor move applies only if the cursor is still where the batch was read from); one that
 * fails again is kept again, as a new row. Returns the records and dead letters it holds, or null when the batch is
 * not waiting (unknown, or retried or discarded meanwhile): nothing is queued then.
 */
export async function retryFailedBatch(
  db: Kysely<Database>,
  ingest: Pick<IngestQueue, 'requeue'>,
  id: string,
  { actor }: { actor: Actor },
): Promise<{ records: number } | null> {
  const row = await findFailedBatch(db, id);
  if (!row || row.state !== 'failed') return null;
  await ingest.requeue(row.province_code, JSON.parse(row.batch) as object);
  const marked = await markFailedBatches(db, [id], { state: 'retried', actor });
  return marked.length === 1 ? { records: row.records + row.dead_letters } : null;
}
