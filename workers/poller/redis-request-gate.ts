import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '../redis.js';
import type { RequestGate } from '../../connectors/sdk/request-gate.js';
import type { RateLimit } from '../../connectors/sdk/source-policy.js';
import { redisScripts } from '../redis-scripts/redis-scripts.js';

/**
 * A connector's rate limit held in Redis, so that it holds across every poller process on every machine
 * (issue: rate limits per province system). Requests start at most `requestsPerSecond` per second and at most
 * `concurrentRequests` are in flight; a lease a dead poller never released expires after `leaseMs`.
 */
export class RedisRequestGate implements RequestGate {
  private readonly leases: string;
  private readonly nextStart: string;

  constructor(
    private readonly redis: RedisConnection,
    prefix: string,
    connectorId: string,
    private readonly limit: RateLimit,
    /** Longest a request may hold its lease: a little more than the request's timeout. Default 120 s. */
    private readonly leaseMs = 120_000,
    /** Told when a lease cannot be given back (it then frees itself after `leaseMs`). Default: nobody. */
    private readonly onReleaseError: (error: unknown) => void = () => {},
  ) {
    // One hash tag per connector: both keys on one Redis Cluster shard, as the script needs.
    this.leases = `${prefix}:{gate:${connectorId}}:leases`;
    this.nextStart = `${prefix}:{gate:${connectorId}}:next`;
  }

  async run<T>(request: () => Promise<T>): Promise<T> {
    const token = randomUUID();
    for (;;) {
      // Atomically, on Redis's clock: drop expired leases, take one if the rate and concurrency allow.
      const wait = await redisScripts(this.redis).takeRequestLease(
        this.leases,
        this.nextStart,
        token,
        this.limit.requestsPerSecond,
        this.limit.concurrentRequests,
        this.leaseMs,
      );
      if (wait === 0) break;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    try {
      return await request();
    } finally {
      await this.redis.zrem(this.leases, token).catch((error: unknown) => this.onReleaseError(error));
    }
  }
}
