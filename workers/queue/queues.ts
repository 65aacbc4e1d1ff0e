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

/** The ingest batch and its schema: ingest-message.ts. */
export type { IngestBatch } from './ingest-message.js';
