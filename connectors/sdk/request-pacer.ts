import type { RequestGate } from './request-gate.js';
import type { RateLimit } from './source-policy.js';

/**
 * Keeps one connector's requests within its rate limit in this process only: at most `requestsPerSecond`
 * starts per second and `concurrentRequests` in flight. The fleet uses the Redis-held gate instead.
 */
export class RequestPacer implements RequestGate {
  private nextStart = 0;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  private readonly requestsPerSecond: number;
  private readonly concurrentRequests: number;

  constructor(limit: RateLimit) {
    this.requestsPerSecond = limit.requestsPerSecond;
    this.concurrentRequests = limit.concurrentRequests;
  }

  /** Runs `request` when the limits allow. */
  async run<T>(request: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.concurrentRequests) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.inFlight += 1;
    try {
      const now = Date.now();
      const start = Math.max(now, this.nextStart);
      this.nextStart = start + 1000 / this.requestsPerSecond;
      if (start > now) await new Promise((resolve) => setTimeout(resolve, start - now));
      return await request();
    } finally {
      this.inFlight -= 1;
      this.waiting.shift()?.();
    }
  }
}
