import type { Kysely } from 'kysely';
import { findFailedBatch } from '../../db/queries/failed-batches.js';
import type { Database } from '../../db/schema.js';
import type { IngestQueue } from '../queue/ingest-queue.js';
import type { Actor } from './audit.js';
import { markFailedBatches } from './failed-batch-marks.js';

/** Redis did not acknowledge a retried batch in time: it stays `failed`, unrecorded, to be retried later. */
export class FailedBatchNotQueuedError extends Error {
  override readonly name = 'FailedBatchNotQueuedError';
}

/** Options of a retry. */
export interface RetryOptions {
  /** Who retries: recorded in the audit trail with the mark. */
  actor: Actor;
  /** How long to wait for Redis to acknowledge the batch. Default 10 s. */
  ackTimeoutMs?: number;
}

/**
 * Retries one failed batch: hands it to the ingest queue of the province that held it, as it was kept, and marks it
 * retried once Redis has acknowledged it (recorded in the audit trail with the mark). The writer then commits it
 * like any batch (its cursor move applies only if the cursor is still where the batch was read from); one that
 * fails again is kept again, as a new row. Returns the records and dead letters it holds, or null when the batch is
 * not waiting (unknown, or retried or discarded meanwhile): nothing is queued then. Without an acknowledgement
 * within `ackTimeoutMs` it throws `FailedBatchNotQueuedError` and the batch stays failed (should the add land
 * later, a second retry is a repeat the writer applies once: records by version, the cursor move only from where
 * it was read).
 */
export async function retryFailedBatch(
  db: Kysely<Database>,
  ingest: Pick<IngestQueue, 'requeue'>,
  id: string,
  { actor, ackTimeoutMs = 10_000 }: RetryOptions,
): Promise<{ records: number } | null> {
  const row = await findFailedBatch(db, id);
  if (!row || row.state !== 'failed') return null;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new FailedBatchNotQueuedError(
            `failed batch ${id} was not acknowledged by Redis within ${ackTimeoutMs} ms (is Redis reachable?); it stays failed: retry it again later`,
          ),
        ),
      ackTimeoutMs,
    );
  });
  try {
    await Promise.race([ingest.requeue(row.province_code, JSON.parse(row.batch) as object), timeout]);
  } finally {
    clearTimeout(timer);
  }
  const marked = await markFailedBatches(db, [id], { state: 'retried', actor });
  return marked.length === 1 ? { records: row.records + row.dead_letters } : null;
}
