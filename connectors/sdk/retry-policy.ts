/**
 * How the fleet retries work that failed for a reason that may pass (a Postgres restart, a lost Redis
 * connection): exponential backoff with full jitter, so retries of many batches do not arrive together.
 */
export const retryPolicy = {
  /** Attempts of one ingest batch before it is kept in the failed set. 30 attempts ≈ 25 minutes of retrying. */
  attempts: 30,
  /** First retry waits up to this long. */
  baseDelayMs: 200,
  /** No retry waits longer than this. */
  maxDelayMs: 60_000,
};

/** Delay before retry number `attempt` (1 = first retry): random in [0, min(max, base·2^(attempt-1))]. */
export function retryDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(retryPolicy.maxDelayMs, retryPolicy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(random() * ceiling);
}
