import { z } from 'zod';

// How the fleet treats one province system: its rate limit, its circuit breaker, its retries. Every connector
// kind's config may carry these three keys (a declarative definition has them as sections); the framework
// reads them with `sourcePolicyOf` and applies them around every call to the system.

const positive = (what: string) => z.number({ error: `expected ${what}` }).positive({ error: `expected ${what}` });
const wholeAtLeast = (min: number) =>
  z
    .number({ error: `expected a whole number of at least ${min}` })
    .int({ error: `expected a whole number of at least ${min}` })
    .min(min, { error: `expected a whole number of at least ${min}` });

/** Requests to the system, across every poller on every machine (held in Redis). */
export const rateLimitSchema = z
  .object({
    /** Request starts per second at most. Default 5. */
    requestsPerSecond: positive('a positive number').max(1000, { error: 'expected at most 1000' }).default(5),
    /** Requests in flight at once at most. Default 1. */
    concurrentRequests: wholeAtLeast(1).max(64, { error: 'expected at most 64' }).default(1),
  })
  .strict();
export type RateLimit = z.infer<typeof rateLimitSchema>;
export const defaultRateLimit: RateLimit = { requestsPerSecond: 5, concurrentRequests: 1 };

/** When the connector's circuit breaker opens: failures that are the system's fault, not the request's. */
export const breakerSchema = z
  .object({
    /** Percentage of failed calls in the rolling window that opens the breaker. Default 50. */
    errorThresholdPercentage: positive('a percentage from 1 to 100')
      .max(100, { error: 'expected a percentage from 1 to 100' })
      .default(50),
    /** Calls in the window before the breaker may open at all. Default 5. */
    volumeThreshold: wholeAtLeast(1).default(5),
    /** Seconds an open breaker waits before letting one trial call through (half-open). Default 30. */
    resetTimeoutSeconds: wholeAtLeast(1).max(3600, { error: 'expected at most 3600' }).default(30),
    /** Length of the rolling window, in seconds. Default 60. */
    windowSeconds: wholeAtLeast(1).max(3600, { error: 'expected at most 3600' }).default(60),
  })
  .strict();
export type BreakerSettings = z.infer<typeof breakerSchema>;
export const defaultBreaker: BreakerSettings = {
  errorThresholdPercentage: 50,
  volumeThreshold: 5,
  resetTimeoutSeconds: 30,
  windowSeconds: 60,
};

/** Which failures are retried, and how many retries a connector may spend. */
export const retrySchema = z
  .object({
    /** HTTP statuses that mean "try again later". Default 408, 429, 500, 502, 503, 504. */
    transientStatusCodes: z
      .array(z.number().int().min(400).max(599), { error: 'expected a list of HTTP status codes 400-599' })
      .default([408, 429, 500, 502, 503, 504]),
    /** Attempts of one page within a run before the run fails (the next run resumes from the cursor). Default 3. */
    maxAttempts: wholeAtLeast(1).max(10, { error: 'expected at most 10' }).default(3),
    /**
     * Retries the connector may spend per minute, across its runs in one poller: a failing system is not hammered.
     * Default 30.
     */
    budgetPerMinute: wholeAtLeast(0).max(10_000, { error: 'expected at most 10000' }).default(30),
  })
  .strict();
export type RetrySettings = z.infer<typeof retrySchema>;
export const defaultRetry: RetrySettings = {
  transientStatusCodes: [408, 429, 500, 502, 503, 504],
  maxAttempts: 3,
  budgetPerMinute: 30,
};

/** The policies of a stored connector config, defaults for what it does not declare. */
export function sourcePolicyOf(config: unknown): {
  rateLimit: RateLimit;
  breaker: BreakerSettings;
  retry: RetrySettings;
  requestTimeoutMs: number;
} {
  const declared = (config && typeof config === 'object' ? config : {}) as Record<string, unknown>;
  // A plugin declares `timeoutMs`; a declarative definition `http.timeoutMs`.
  const timeout = declared.timeoutMs ?? (declared.http as { timeoutMs?: unknown } | undefined)?.timeoutMs;
  const read = <T>(schema: z.ZodType<T>, value: unknown, fallback: T): T => {
    const parsed = schema.safeParse(value ?? {});
    return parsed.success ? parsed.data : fallback;
  };
  return {
    rateLimit: read(rateLimitSchema, declared.rateLimit, defaultRateLimit),
    breaker: read(breakerSchema, declared.breaker, defaultBreaker),
    retry: read(retrySchema, declared.retry, defaultRetry),
    requestTimeoutMs: typeof timeout === 'number' && timeout > 0 ? timeout : 30_000,
  };
}
