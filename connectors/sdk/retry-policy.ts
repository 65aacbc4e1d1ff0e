/**
 * Exponential backoff with full jitter, the shape of every retry delay in the fleet: retries of many calls that
 * failed together (a province system's hiccup, a Postgres restart) do not arrive together.
 */
export interface Backoff {
  /** The first retry waits up to this long. */
  baseDelayMs: number;
  /** No retry waits longer than this. */
  maxDelayMs: number;
}

/**
 * How a connector's source request that failed for a reason that may pass is retried, by the fleet around every
 * connector kind: which failures and how many retries are the connector's `retry` section (source-policy.ts);
 * the wait between them is this, unless the system asked for one (`Retry-After`, up to `maxDelayMs`).
 */
export const sourceRequestBackoff: Backoff = { baseDelayMs: 200, maxDelayMs: 60_000 };

/** Delay before retry number `attempt` (1 = first retry): random in [0, min(max, base·2^(attempt-1))]. */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxDelayMs, backoff.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(random() * ceiling);
}
