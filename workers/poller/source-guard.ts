import CircuitBreaker from 'opossum';
import type { ReadableConnector, ReadState, SourcePage } from '../../connectors/sdk/connector.js';
import { backoffDelay, sourceRequestBackoff } from '../../connectors/sdk/retry-policy.js';
import type { BreakerSettings, RetrySettings } from '../../connectors/sdk/source-policy.js';
import { SourceError } from '../../connectors/sdk/source-error.js';
import { SecretUnavailableError } from '../../connectors/sdk/secrets.js';

/** A breaker's state, as the gauge and `fleet connector list` show it. */
export type BreakerState = 'closed' | 'half_open' | 'open';

/**
 * Failures that are the caller's fault say nothing about the province system's health: a 4xx other than 408
 * and 429 (a wrong key, a wrong path) does not count towards opening the breaker.
 */
function isCallersFault(error: unknown): boolean {
  // A secret missing here is our configuration's fault, not the province system's.
  if (error instanceof SecretUnavailableError) return true;
  return (
    error instanceof SourceError &&
    error.status !== null &&
    error.status >= 400 &&
    error.status < 500 &&
    error.status !== 408 &&
    error.status !== 429
  );
}

/**
 * Everything between the fleet and one province system: a long-lived circuit breaker (one per connector per
 * process), and retries of transient failures with backoff and full jitter, within a per-connector budget so
 * that a failing system is not hammered. One policy for polling, backfill and reconcile. Which failures are
 * transient is the connector's to say (`SourceError.transient`): every kind classifies an answered request by its
 * `retry.transientStatusCodes` (`withTransientStatuses`).
 */
export class SourceGuard {
  /** The connector's circuit breaker (opossum). */
  readonly breaker: CircuitBreaker<[() => Promise<SourcePage>], SourcePage>;
  private budget: number;
  private budgetRefilledAt = Date.now();

  constructor(
    private readonly connectorId: string,
    private readonly breakerSettings: BreakerSettings,
    private readonly retry: RetrySettings,
    /** Called on every change of the breaker's state. */
    onStateChange: (state: BreakerState) => void,
  ) {
    this.budget = retry.budgetPerMinute;
    const breaker = breakerSettings;
    this.breaker = new CircuitBreaker((call: () => Promise<SourcePage>) => call(), {
      // The connector's own request timeout applies; a page may take long on a slow system.
      timeout: false,
      errorThresholdPercentage: breaker.errorThresholdPercentage,
      volumeThreshold: breaker.volumeThreshold,
      resetTimeout: breaker.resetTimeoutSeconds * 1000,
      rollingCountTimeout: breaker.windowSeconds * 1000,
      rollingCountBuckets: 10,
      errorFilter: isCallersFault,
      name: connectorId,
    });
    this.breaker.on('open', () => onStateChange('open'));
    this.breaker.on('halfOpen', () => onStateChange('half_open'));
    this.breaker.on('close', () => onStateChange('closed'));
  }

  /** The breaker's current state. */
  get state(): BreakerState {
    return this.breaker.opened ? 'open' : this.breaker.halfOpen ? 'half_open' : 'closed';
  }

  /** Takes one retry from the budget, refilled every minute. */
  private takeRetry(): boolean {
    if (Date.now() - this.budgetRefilledAt >= 60_000) {
      this.budget = this.retry.budgetPerMinute;
      this.budgetRefilledAt = Date.now();
    }
    if (this.budget <= 0) return false;
    this.budget -= 1;
    return true;
  }

  /** Reads one page through the breaker, retrying transient failures as the policy allows. */
  read(connector: ReadableConnector, state: ReadState | null, signal?: AbortSignal): Promise<SourcePage> {
    return this.readWith(() => connector.read(state, signal), signal);
  }

  /** Reads one page by `readPage` (a window's page, for backfill) through the breaker, retrying the same way. */
  async readWith(readPage: () => Promise<SourcePage>, signal?: AbortSignal): Promise<SourcePage> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.breaker.fire(readPage);
      } catch (error) {
        if (this.breaker.opened && !(error instanceof SourceError)) {
          throw new SourceError(
            `connector ${this.connectorId}: circuit breaker open after repeated failures of the province system; next trial within ${this.breakerSettings.resetTimeoutSeconds} s`,
            true,
          );
        }
        const transient = error instanceof SourceError ? error.transient : false;
        if (signal?.aborted || !transient || attempt >= this.retry.maxAttempts || !this.takeRetry()) throw error;
        const asked = error instanceof SourceError ? error.retryAfterMs : null;
        const delay =
          asked !== null
            ? Math.min(asked, sourceRequestBackoff.maxDelayMs)
            : backoffDelay(attempt, sourceRequestBackoff);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Stops the breaker's timers. */
  shutdown(): void {
    this.breaker.shutdown();
  }
}
