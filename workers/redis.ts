import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { redactUrl } from '../config/env.js';
import { parseClusterUrl } from '../config/redis-url.js';
import type { Logger } from './logger.js';

/**
 * A connection of the fleet to its Redis: one server, or a Redis Cluster. Every multi-key command and script of the
 * fleet keeps its keys in one hash slot (a `{…}` tag in each key), so both take the same commands.
 */
export type RedisConnection = Redis | Cluster;

/** Redis could not be reached; the message names the server (never the password) and what is expected. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

/**
 * Opens `url` with `options`: a `Redis` for one server, a `Cluster` for a `redis-cluster://` URL. For a cluster the
 * options of each node's connection go to `redisOptions`, the cluster-wide ones (offline queue, auto-pipelining,
 * ready check, lazy connect) to the cluster, and `retryStrategy` becomes the cluster's reconnection strategy (ioredis
 * reconnects a cluster as a whole).
 */
export function connectRedis(url: string, options: RedisOptions = {}): RedisConnection {
  const cluster = parseClusterUrl(url);
  if (!cluster) return new Redis(url, options);
  const { enableOfflineQueue, enableAutoPipelining, enableReadyCheck, lazyConnect, retryStrategy, ...perNode } =
    options;
  const clusterOptions: ClusterOptions = {
    redisOptions: {
      ...perNode,
      ...(cluster.username !== undefined ? { username: cluster.username } : {}),
      ...(cluster.password !== undefined ? { password: cluster.password } : {}),
      ...(cluster.tls ? { tls: {} } : {}),
    },
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
    ...(enableAutoPipelining !== undefined ? { enableAutoPipelining } : {}),
    ...(enableReadyCheck !== undefined ? { enableReadyCheck } : {}),
    ...(lazyConnect !== undefined ? { lazyConnect } : {}),
    ...(typeof retryStrategy === 'function'
      ? { clusterRetryStrategy: (times: number) => retryStrategy(times) ?? null }
      : {}),
  };
  return new Cluster(cluster.nodes, clusterOptions);
}

/**
 * A Redis connection for BullMQ. `maxRetriesPerRequest: null` as BullMQ's production guide asks for workers:
 * commands wait for a reconnect instead of failing, so a Redis restart pauses the fleet rather than failing jobs.
 * `lazy` (default false): connect on the first command, for a command line that may end before it needs Redis —
 * closing a connection still being opened keeps the process up to 2 s (ioredis's disconnect timeout).
 */
export function createRedis(url: string, { lazy = false }: { lazy?: boolean } = {}): RedisConnection {
  return connectRedis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
    lazyConnect: lazy,
  });
}

/**
 * A Redis connection for work a request waits on and that has another way when Redis fails (the API rate limit):
 * while the connection is down a command fails at once instead of waiting for the reconnection (no offline queue,
 * no retry), and a command Redis does not answer fails after `commandTimeoutMs` (default 500). It reconnects as
 * `createRedis` does.
 */
export function createFailFastRedis(url: string, commandTimeoutMs = 500): RedisConnection {
  return connectRedis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    enableReadyCheck: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
  });
}

/** Checks that Redis (for a Redis Cluster: its seed nodes' cluster) answers within a few seconds, never retrying. */
export async function assertRedisReachable(url: string): Promise<void> {
  let probe: RedisConnection | null = null;
  try {
    probe = connectRedis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 3_000,
    });
    // Silent on purpose: a failure to connect rejects `connect()` below, and is thrown with what to check.
    probe.on('error', () => {});
    await probe.connect();
    await probe.ping();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RedisUnavailableError(
      `cannot reach Redis at ${redactUrl(url)} (REDIS_URL): ${reason}; expected a running Redis 6.2 or newer${parseClusterUrl(url) ? ' (a Redis Cluster whose cluster_state is ok)' : ''}`,
    );
  } finally {
    probe?.disconnect();
  }
}

/**
 * Warns when Redis may evict keys: an evicted job or lock is lost work (DESIGN.md: Redis runs with
 * `maxmemory-policy noeviction`).
 */
export async function warnIfEvicting(redis: RedisConnection, logger: Logger): Promise<void> {
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
