/**
 * Keeps one connector's requests within its rate limit: at most `requestsPerSecond` starts per second and
 * `concurrentRequests` in flight, in this process. (Holding the limit in Redis, across pollers, is the
 * resilience issue's.)
 */
export class RequestPacer {
  private nextStart = 0;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly requestsPerSecond: number,
    private readonly concurrentRequests: number,
  ) {}

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
