import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import LocalStore from '@fastify/rate-limit/store/LocalStore.js';
import RedisStore from '@fastify/rate-limit/store/RedisStore.js';
import type { RedisConnection } from '../../redis.js';
import type { BackgroundErrors, ErrorSource } from '../../background-error-reporter.js';

/** What {@link RedisOrLocalStore} needs. */
export interface RedisOrLocalStoreOptions {
  /**
   * The Redis every gateway process counts in. A connection that fails fast (`createFailFastRedis`): one that queues
   * commands through an outage would hold every request until Redis came back.
   */
  redis: RedisConnection;
  /** Prefix of the counters' Redis keys, e.g. `dossier-sync:api-rate-limit:` (the key's id follows). */
  keyPrefix: string;
  /** Where a Redis failure is told: logged at most once per interval, and every request counted in this process. */
  errors: BackgroundErrors;
  /** How long after a failure every request is counted in this process before Redis is asked again. Default 1000 ms. */
  retryAfterMs?: number;
}

const redisUnreachable: ErrorSource = {
  component: 'api_rate_limit',
  kind: 'redis_unreachable',
  level: 'warn',
  message:
    'the API rate limit cannot reach Redis: each gateway process counts the requests of a key on its own, at the same rate, until Redis answers',
};

/**
 * A rate-limit store for @fastify/rate-limit that counts in Redis, so a key's limit holds across gateway
 * processes, and in this process while Redis fails: a Redis outage neither opens the gate (no limit at all) nor
 * takes the API down (every request refused, or waiting). The local count is the plugin's own LocalStore, at the
 * same rate, so during an outage a key may make its limit once per gateway process, never more.
 */
export class RedisOrLocalStore implements FastifyRateLimitStore {
  /** Until when (epoch ms) Redis is left alone after a failure. */
  private redisAvoidedUntil = 0;

  constructor(
    private readonly options: RedisOrLocalStoreOptions,
    private readonly shared: FastifyRateLimitStore = new RedisStore(false, false, options.redis, options.keyPrefix),
    private readonly local: FastifyRateLimitStore = new LocalStore(false, false),
  ) {}

  /** The constructor @fastify/rate-limit's `store` option takes (it passes its own settings; these are ours). */
  static withOptions(options: RedisOrLocalStoreOptions): FastifyRateLimitStoreCtor {
    return class extends RedisOrLocalStore {
      constructor() {
        super(options);
      }
    };
  }

  incr(
    key: string,
    callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
    timeWindow: number,
    max: number,
  ): void {
    const { redis } = this.options;
    if (Date.now() < this.redisAvoidedUntil || redis.status !== 'ready') {
      this.fellBack(new Error(`the Redis connection is ${redis.status}`), false);
      this.local.incr(key, callback, timeWindow, max);
      return;
    }
    this.shared.incr(
      key,
      (error, result) => {
        if (!error) return callback(null, result);
        this.fellBack(error, true);
        this.local.incr(key, callback, timeWindow, max);
      },
      timeWindow,
      max,
    );
  }

  child(routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
    return new RedisOrLocalStore(this.options, this.shared.child(routeOptions), this.local.child(routeOptions));
  }

  private fellBack(error: unknown, failed: boolean): void {
    if (failed) this.redisAvoidedUntil = Date.now() + (this.options.retryAfterMs ?? 1_000);
    this.options.errors.report(redisUnreachable, error);
  }
}
