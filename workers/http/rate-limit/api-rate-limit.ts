import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RedisConnection } from '../../redis.js';
import type { BackgroundErrors } from '../../background-error-reporter.js';
import { problem, sendProblem } from '../problem.js';
import { RedisOrLocalStore } from './redis-or-local-store.js';

/** Options of the per-key rate limit of the admin and read APIs. */
export interface ApiRateLimitOptions {
  /** Where the counts are held, shared by every gateway process: a fail-fast connection (`createFailFastRedis`). */
  redis: RedisConnection;
  /** Prefix of the counters' Redis keys (QUEUE_PREFIX): `<prefix>:api-rate-limit:<key id>`. */
  prefix: string;
  /** Requests a key may make per window (API_RATE_LIMIT_PER_SECOND). */
  max: number;
  /** The window, in ms. Default 1000: `max` is per second. */
  windowMs?: number;
}

/** An `onRequest` hook that counts the request against its key's limit, after {@link requireApiKey}. */
export type ApiRateLimitHook = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

/**
 * The per-key rate limit: @fastify/rate-limit counting by `request.apiKey.id` in Redis (in this process while Redis
 * fails: {@link RedisOrLocalStore}). Every answer carries `RateLimit-Limit`, `-Remaining`, `-Reset` (the IETF draft's
 * names) and the same as `X-RateLimit-*`; a request over the limit is 429 `rate_limited` with `Retry-After`.
 * Registered on the root server once; the hook it returns goes into each API's scope after its key check.
 */
export async function registerApiRateLimit(
  server: FastifyInstance,
  options: ApiRateLimitOptions,
  errors: BackgroundErrors,
): Promise<ApiRateLimitHook> {
  const windowMs = options.windowMs ?? 1_000;
  await server.register(fastifyRateLimit, {
    // No route is limited by the plugin's own hooks: the APIs add the hook below where the key is known.
    global: false,
    max: options.max,
    timeWindow: windowMs,
    store: RedisOrLocalStore.withOptions({
      redis: options.redis,
      keyPrefix: `${options.prefix}:api-rate-limit:`,
      errors,
    }),
    keyGenerator: (request) => request.apiKey?.id ?? `ip:${request.ip}`,
  });
  const count = server.createRateLimit();
  const window = windowMs % 1_000 === 0 ? `${windowMs / 1_000} s` : `${windowMs} ms`;

  return async (request, reply) => {
    const outcome = await count(request);
    if (outcome.isAllowed) return undefined;
    const reset = String(Math.max(1, outcome.ttlInSeconds));
    for (const name of ['ratelimit', 'x-ratelimit']) {
      reply.header(`${name}-limit`, String(outcome.max));
      reply.header(`${name}-remaining`, String(outcome.remaining));
      reply.header(`${name}-reset`, reset);
    }
    if (!outcome.isExceeded) return undefined;
    return sendProblem(
      reply.header('retry-after', reset),
      problem(
        'rate_limited',
        `API key ${request.apiKey?.id ?? '(none)'} made more than ${outcome.max} requests in ${window}; retry after ${reset} s`,
      ),
    );
  };
}
