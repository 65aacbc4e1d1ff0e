import { Redis } from 'ioredis';
import { redactUrl } from '../config/env.js';
import type { Logger } from './logger.js';

/** Redis could not be reached; the message names the server (never the password) and what is expected. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

/**
 * A Redis connection for BullMQ. `maxRetriesPerRequest: null` as BullMQ's production guide asks for workers:
 * commands wait for a reconnect instead of failing, so a Redis restart pauses the fleet rather than failing jobs.
 */
export function createRedis(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
  });
}

/**
 * A Redis connection for work a request waits on and that has another way when Redis fails (the API rate limit):
 * while the connection is down a command fails at once instead of waiting for the reconnection (no offline queue,
 * no retry), and a command Redis does not answer fails after `commandTimeoutMs` (default 500). It reconnects as
 * `createRedis` does.
 */
export function createFailFastRedis(url: string, commandTimeoutMs = 500): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    enableReadyCheck: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
  });
}

/** Checks that Redis answers within a few seconds, without retrying forever. */
export async function assertRedisReachable(url: string): Promise<void> {
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 3_000,
  });
  // Silent on purpose: a failure to connect rejects `connect()` below, and is thrown with what to check.
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RedisUnavailableError(
      `cannot reach Redis at ${redactUrl(url)} (REDIS_URL): ${reason}; expected a running Redis 6.2 or newer`,
    );
  } finally {
    probe.disconnect();
  }
}

/**
 * Warns when Redis may evict keys: an evicted job or lock is lost work (DESIGN.md: Redis runs with
 * `maxmemory-policy noeviction`).
 */
export async function warnIfEvicting(redis: Redis, logger: Logger): Promise<void> {
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    if (policy !== 'noeviction') {
      logger.warn(
        { policy },
        `Redis maxmemory-policy is ${policy}; expected noeviction, or Redis may drop queued batches under memory pressure`,
      );
    }
  } catch {
    // Managed Redis services often forbid CONFIG; the policy is then the operator's to check.
    logger.warn('could not read Redis maxmemory-policy (CONFIG GET refused); make sure it is noeviction');
  }
}
