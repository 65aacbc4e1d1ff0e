import type { IngestBatch } from '../queues.js';

/**
 * An ingest batch of pushed (webhook) records. It never carries a cursor; the `pushed` mark tells it apart from
 * a poll batch of the look-back window (which carries no cursor move either), so the writer measures the
 * receipt-to-commit latency of pushed records only.
 */
export interface PushedBatch extends IngestBatch {
  pushed: true;
}

export function isPushedBatch(batch: IngestBatch): batch is PushedBatch {
  return (batch as Partial<PushedBatch>).pushed === true && batch.cursor === undefined;
}
