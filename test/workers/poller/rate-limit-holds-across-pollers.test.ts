import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { RedisRequestGate } from '../../../workers/poller/redis-request-gate.js';
import { deleteKeys } from '../../support/test-environment.js';
import { FlakyServer } from './flaky-server.js';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test-gate-${process.pid}`;
let redis: Redis;
let server: FlakyServer | null = null;
beforeAll(() => {
  redis = new Redis(redisUrl);
});
afterEach(async () => {
  await server?.stop();
  await deleteKeys(redisUrl, prefix);
});
afterAll(() => redis.disconnect());

/** Two pollers (two gates on two connections) sharing one connector's limit. */
async function twoPollers(limit: { requestsPerSecond: number; concurrentRequests: number }, delayMs: number) {
  server = new FlakyServer(() => ({ status: 200, delayMs }));
  const url = await server.start();
  const other = new Redis(redisUrl);
  const gates = [new RedisRequestGate(redis, prefix, 'hcm', limit), new RedisRequestGate(other, prefix, 'hcm', limit)];
  const call = (gate: RedisRequestGate) => gate.run(() => fetch(url).then((response) => response.text()));
  return { gates, call, close: () => other.disconnect() };
}

it('lets at most concurrentRequests be in flight across pollers', async () => {
  const { gates, call, close } = await twoPollers({ requestsPerSecond: 1000, concurrentRequests: 2 }, 50);
  await Promise.all(Array.from({ length: 12 }, (_, i) => call(gates[i % 2]!)));
  close();
  expect(server!.starts).toHaveLength(12);
  expect(server!.maxInFlight).toBe(2);
});

it('spaces request starts by the rate across pollers', async () => {
  const { gates, call, close } = await twoPollers({ requestsPerSecond: 20, concurrentRequests: 8 }, 0);
  await Promise.all(Array.from({ length: 10 }, (_, i) => call(gates[i % 2]!)));
  close();
  const starts = [...server!.starts].sort((a, b) => a - b);
  // Ten starts at 20 per second cannot fit in less than 9 intervals of 50 ms.
  expect(starts.at(-1)! - starts[0]!).toBeGreaterThanOrEqual(9 * 50 - 20);
});

it('frees the place of a request whose poller died, once its lease ends', async () => {
  const dead = new RedisRequestGate(redis, prefix, 'hue', { requestsPerSecond: 1000, concurrentRequests: 1 }, 300);
  // A lease taken and never released: the request is abandoned mid-flight.
  void dead.run(() => new Promise(() => {}));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const alive = new RedisRequestGate(redis, prefix, 'hue', { requestsPerSecond: 1000, concurrentRequests: 1 }, 300);
  await expect(alive.run(async () => 'served')).resolves.toBe('served');
});
