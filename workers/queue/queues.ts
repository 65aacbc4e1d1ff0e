import type { Cursor } from '../../connectors/sdk/connector.js';
import type { DossierRecord } from '../../connectors/sdk/dossier-record.js';
import type { DeadLetter } from '../../connectors/sdk/normalise.js';
import type { CursorMove } from '../../db/queries/sync-cursors.js';

/**
 * Queue names carry a Redis Cluster hash tag, so each queue's keys stay on one shard (DESIGN.md, "Scale path").
 */
export const queueNames = {
  /** Poll jobs, one job scheduler per connector. */
  poll: '{poll}',
} as const;

/**
 * The queue of one province's batches on their way to the writer, e.g. `{ingest-79}`: one per province, so the
 * writer can take provinces in turns and a backlog in one does not delay the others.
 */
export function ingestQueueName(province: string): string {
  return `{ingest-${province}}`;
}

/** A poll job: which connector to read. */
export interface PollJob {
  connectorId: string;
}

/** One batch for the writer: a page's records and dead letters, and the cursor move they complete. */
export interface IngestBatch {
  /**
   * How its records came: read by a poller, or pushed to the gateway. A pushed batch never moves a cursor; the
   * writer measures the receipt-to-commit latency of pushed records.
   */
  origin: 'poll' | 'push';
  connectorId: string;
  /** The connector's current (2025) province: the queue it goes in, and the label of its metrics and logs. */
  provinceCode: string;
  records: DossierRecord[];
  deadLetters: DeadLetter[];
  /** Present for poll batches: the cursor moves in the same transaction that stores the records. */
  cursor?: CursorMove;
}

export type { Cursor };
