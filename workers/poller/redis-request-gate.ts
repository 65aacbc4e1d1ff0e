import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RequestGate } from '../../connectors/sdk/request-gate.js';
import type { RateLimit } from '../../connectors/sdk/source-policy.js';

// One script, run atomically by Redis: drop leases that expired (a poller killed mid-request), then take a lease
// if fewer than `concurrent` are held and the next start the rate allows has come. Returns 0 when the lease is
// taken, or how many milliseconds to wait before asking again. Redis's clock is the one clock of every poller.
const acquireScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 25 end
local nextStart = tonumber(redis.call('GET', KEYS[2]) or '0')
if nextStart > now then return math.ceil(nextStart - now) end
local lease = tonumber(ARGV[4])
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease * 2)
local interval = 1000 / tonumber(ARGV[2])
redis.call('SET', KEYS[2], tostring(now + interval), 'PX', math.ceil(interval) + 1000)
return 0
`;

/**
 * A connector's rate limit held in Redis, so that it holds across every poller process on every machine
 * (issue: rate limits per province system). Requests start at most `requestsPerSecond` per second and at most
 * `concurrentRequests` are in flight; a lease a dead poller never released expires after `leaseMs`.
 */
export class RedisRequestGate implements RequestGate {
  private readonly leases: string;
  private readonly nextStart: string;

  constructor(
    private readonly redis: Redis,
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
      const wait = Number(await this.redis.eval(acquireScript, 2, this.leases, this.nextStart, token, this.limit.requestsPerSecond, this.limit.concurrentRequests, this.leaseMs));
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
