// The two stores @fastify/rate-limit ships (store/RedisStore.js, store/LocalStore.js) are not in its type
// declarations; RedisOrLocalStore composes them, so their constructors are declared here as the package defines them.

declare module '@fastify/rate-limit/store/RedisStore.js' {
  import type { FastifyRateLimitStore } from '@fastify/rate-limit';
  import type { Cluster, Redis } from 'ioredis';

  /** Counts in Redis (INCR and PEXPIRE in one Lua script) under `key` + the request's key. */
  const RedisStore: new (
    continueExceeding: boolean,
    exponentialBackoff: boolean,
    redis: Redis | Cluster,
    key?: string,
  ) => FastifyRateLimitStore;
  export default RedisStore;
}

declare module '@fastify/rate-limit/store/LocalStore.js' {
  import type { FastifyRateLimitStore } from '@fastify/rate-limit';

  /** Counts in this process, in an LRU map of `cache` keys (default 5000). */
  const LocalStore: new (
    continueExceeding: boolean,
    exponentialBackoff: boolean,
    cache?: number,
  ) => FastifyRateLimitStore;
  export default LocalStore;
}
