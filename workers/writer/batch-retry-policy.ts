import { backoffDelay, type Backoff } from '../../connectors/sdk/retry-policy.js';

/**
 * How long the writer waits before trying a batch again that failed for a reason that may pass (a Postgres
 * restart, a lost connection). How many times it is tried is the queue's (`ingestJobRetries`).
 */
export const batchRetryBackoff: Backoff = { baseDelayMs: 200, maxDelayMs: 60_000 };

/** The delay before a batch's next attempt, after `attemptsMade` failed ones (BullMQ's custom backoff strategy). */
export function batchRetryDelay(attemptsMade: number): number {
  return backoffDelay(attemptsMade, batchRetryBackoff);
}
