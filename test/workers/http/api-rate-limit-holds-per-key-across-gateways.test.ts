import { cliActor } from '../../../workers/control-plane/audit.js';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import { registerOpenApi } from '../../../workers/http/openapi.js';
import { registerApiRateLimit } from '../../../workers/http/rate-limit/api-rate-limit.js';
import { readApi } from '../../../workers/http/read/read-api.js';
import { createLogger } from '../../../workers/logger.js';
import { createFailFastRedis, type RedisConnection } from '../../../workers/redis.js';
import { OwnRedis } from '../../support/own-services.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { startGatewayServer, type GatewayServer } from './gateway-server.js';

// The admin and read APIs limit each key's requests, counted in Redis so that the limit holds across gateway
// processes: over it, 429 rate_limited with Retry-After; other keys are not affected. When Redis fails, each process
// counts on its own at the same rate — the API neither opens wide nor goes down — and uses the shared count again once
// Redis is back. A window of a minute, so that no window ends during a test.

const max = 3;
const windowMs = 60_000;

let env: TestEnvironment;
const closers: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await env?.cleanup();
});

/** A gateway server counting in `redisUrl`, closed after the file. */
async function gatewayOn(redisUrl: string): Promise<GatewayServer & { redis: RedisConnection }> {
  const redis = createFailFastRedis(redisUrl);
  redis.on('error', () => {}); // a stopped Redis is this test's subject; the store reports it
  const gateway = await startGatewayServer(env, {
    rateLimit: { redis, prefix: env.config.QUEUE_PREFIX, max, windowMs },
  });
  closers.push(
    () => redis.disconnect(),
    () => gateway.close(),
  );
  await waitFor(() => redis.status === 'ready', 'the rate limit connected to Redis', 30_000, 50);
  return { ...gateway, redis };
}

async function list(gateway: { url: string }, key: string) {
  const response = await fetch(`${gateway.url}/v1/admin/connectors`, { headers: { authorization: `Bearer ${key}` } });
  const headers = Object.fromEntries(
    [
      'retry-after',
      'ratelimit-limit',
      'ratelimit-remaining',
      'ratelimit-reset',
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
    ].map((name) => [name, response.headers.get(name)]),
  );
  return { status: response.status, headers, body: (await response.json()) as Record<string, unknown> };
}
const statuses = async (gateway: { url: string }, key: string, times: number) => {
  const answered: number[] = [];
  for (let i = 0; i < times; i++) answered.push((await list(gateway, key)).status);
  return answered;
};
const adminKey = async (name: string) => createApiKey(env.db, name, 'admin', { actor: cliActor() });

describe('with Redis up', () => {
  it('answers a key over its limit 429 rate_limited with Retry-After, and leaves another key alone', async () => {
    const gateway = await gatewayOn(env.config.REDIS_URL);
    const busy = await adminKey('busy');
    const quiet = await adminKey('quiet');

    const first = await list(gateway, busy.key);
    expect(first).toMatchObject({ status: 200, headers: { 'ratelimit-limit': '3', 'ratelimit-remaining': '2' } });
    expect(first.headers['x-ratelimit-remaining']).toBe('2');
    expect(first.headers['retry-after']).toBeNull();
    expect(await statuses(gateway, busy.key, 2)).toEqual([200, 200]);

    const refused = await list(gateway, busy.key);
    expect(refused).toMatchObject({
      status: 429,
      headers: {
        'ratelimit-limit': '3',
        'ratelimit-remaining': '0',
        'x-ratelimit-limit': '3',
        'x-ratelimit-remaining': '0',
      },
      body: {
        type: 'urn:dossier-sync:problem:rate_limited',
        title: 'Too Many Requests',
        status: 429,
        code: 'rate_limited',
        detail: expect.stringMatching(
          new RegExp(`^API key ${busy.id} made more than 3 requests in 60 s; retry after \\d+ s$`),
        ),
      },
    });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers['ratelimit-reset']).toBe(String(retryAfter));

    expect(await statuses(gateway, quiet.key, 3)).toEqual([200, 200, 200]);
  });

  it('shares the count of a key between two gateway processes', async () => {
    const one = await gatewayOn(env.config.REDIS_URL);
    const two = await gatewayOn(env.config.REDIS_URL);
    const shared = await adminKey('shared');
    expect(await statuses(one, shared.key, 2)).toEqual([200, 200]);
    expect(await statuses(two, shared.key, 2)).toEqual([200, 429]);
    expect((await list(one, shared.key)).status).toBe(429);
  });

  it('limits the read API as well', async () => {
    const redis = createFailFastRedis(env.config.REDIS_URL);
    const server: FastifyInstance = Fastify();
    closers.push(
      () => redis.disconnect(),
      () => server.close(),
    );
    await registerOpenApi(server);
    const errors = new BackgroundErrorReporter(createLogger('silent'));
    const rateLimit = await registerApiRateLimit(
      server,
      { redis, prefix: env.config.QUEUE_PREFIX, max, windowMs },
      errors,
    );
    await server.register(
      async (api) => {
        await readApi(api, { db: env.db, rateLimit });
        api.get('/test-only/read', async () => ({ ok: true }));
      },
      { prefix: '/v1' },
    );
    const url = await server.listen({ host: '127.0.0.1', port: 0 });
    await waitFor(() => redis.status === 'ready', 'the rate limit connected to Redis', 30_000, 50);
    const portal = await createApiKey(env.db, 'portal', 'portal:read', { actor: cliActor() });
    const read = async () =>
      (await fetch(`${url}/v1/test-only/read`, { headers: { authorization: `Bearer ${portal.key}` } })).status;
    expect([await read(), await read(), await read(), await read()]).toEqual([200, 200, 200, 429]);
  });
});

describe('when Redis fails', () => {
  it('counts in each process at the same rate while Redis is down, and in Redis again once it is back', async () => {
    const redis = await OwnRedis.start();
    closers.push(() => redis.stop());
    const one = await gatewayOn(redis.url);
    const two = await gatewayOn(redis.url);
    const key = await adminKey('through the outage');
    expect(await statuses(one, key.key, 1)).toEqual([200]);

    await redis.stop();
    // Neither open wide nor down: each process lets the key make its limit, then refuses it with 429 and Retry-After.
    expect(await statuses(one, key.key, 4)).toEqual([200, 200, 200, 429]);
    const refused = await list(one, key.key);
    expect(refused).toMatchObject({
      status: 429,
      body: { code: 'rate_limited' },
      headers: { 'ratelimit-remaining': '0' },
    });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(await statuses(two, key.key, 4)).toEqual([200, 200, 200, 429]);
    expect(await one.metrics.registry.getSingleMetricAsString('dossier_sync_background_errors_total')).toMatch(
      /component="api_rate_limit",kind="redis_unreachable"} [1-9]/,
    );

    // Back, empty (no persistence): once the store counts in Redis again, the key's shared count starts afresh there,
    // and the two processes share it again.
    await redis.restartEmpty();
    const probe = await adminKey('probe');
    const counter = `${env.config.QUEUE_PREFIX}:api-rate-limit:${probe.id}`;
    const counted = async () => Number((await one.redis.get(counter)) ?? 0);
    await waitFor(
      async () => {
        try {
          const before = await counted();
          await list(one, probe.key);
          const between = await counted();
          await list(two, probe.key);
          return between === before + 1 && (await counted()) === between + 1;
        } catch {
          return false; // the connection is not up yet
        }
      },
      'both processes count in Redis again',
      60_000,
      200,
    );
    expect(await statuses(one, key.key, 2)).toEqual([200, 200]);
    expect(await statuses(two, key.key, 2)).toEqual([200, 429]);
    expect(await one.redis.get(`${env.config.QUEUE_PREFIX}:api-rate-limit:${key.id}`)).toBe('4');
  });
});
