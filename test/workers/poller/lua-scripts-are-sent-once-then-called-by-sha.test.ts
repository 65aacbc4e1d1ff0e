import { afterAll, beforeAll, expect, it } from 'vitest';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { createLogger } from '../../../workers/logger.js';
import { PollLock } from '../../../workers/poller/poll-lock.js';
import { RedisRequestGate } from '../../../workers/poller/redis-request-gate.js';
import { createRedis } from '../../../workers/redis.js';
import { DeliveryLedger } from '../../../workers/webhooks/delivery-ledger.js';
import { refusal } from '../../../workers/webhooks/delivery-outcome.js';
import { OwnRedis } from '../../support/own-services.js';

// Issue #10: the Lua scripts of the poll lock, the request gate and the delivery ledger live in files and are
// loaded once — EVALSHA on every call, the whole script only the first time on a connection (and again when
// Redis lost its script cache) — not sent whole with EVAL on every call. Counted by Redis itself, on a Redis of
// the test's own, so no other test's commands count.

let own: OwnRedis;
let redis: ReturnType<typeof createRedis>;
beforeAll(async () => {
  own = await OwnRedis.start();
  redis = createRedis(own.url);
});
afterAll(async () => {
  redis?.disconnect();
  await own?.stop();
});

/** Calls of each command Redis counted since the last reset (INFO commandstats). */
async function commandCalls(): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  return Object.fromEntries(
    [...info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)].map(([, command, calls]) => [command!, Number(calls)]),
  );
}

it('sends each script whole once per connection, then by its SHA, and again once after Redis lost its scripts', async () => {
  await redis.config('RESETSTAT');
  const errors = new BackgroundErrorReporter(createLogger('silent'));
  // Renewed every 100 ms while held.
  const locks = new PollLock(redis, 'scripts', errors, 300);
  const gate = new RedisRequestGate(redis, 'scripts', 'connector-a', {
    requestsPerSecond: 1000,
    concurrentRequests: 2,
  });
  const otherGate = new RedisRequestGate(redis, 'scripts', 'connector-b', {
    requestsPerSecond: 1000,
    concurrentRequests: 2,
  });
  const ledger = new DeliveryLedger(redis, { prefix: 'scripts', ttlSeconds: 60, claimTtlMs: 5_000, waitMs: 1_000 });

  let scriptCalls = 0;
  for (let round = 0; round < 3; round++) {
    const lock = await locks.acquire('connector-a');
    expect(lock).not.toBeNull();
    for (let request = 0; request < 4; request++) await (request % 2 === 0 ? gate : otherGate).run(async () => request);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await lock!.release();
    // A delivery is claimed by the ledger's claim script; one its work does not record gives its claim up: the
    // same release script as the lock's.
    await ledger.once('connector-a', `delivery-${round}`, 'body-hash', async () => ({
      answer: refusal('payload_too_large', 'not recorded'),
      record: false,
    }));
    scriptCalls += 4 + 1 + 1 + 1;
  }

  const calls = await commandCalls();
  // Four scripts (take a lease, renew, release, claim a delivery), one connection: each sent whole once.
  expect(calls.eval).toBe(4);
  expect(calls.evalsha).toBeGreaterThanOrEqual(scriptCalls - 4);
  // Renewals ran meanwhile, and every one went by SHA.
  expect(calls.evalsha).toBeGreaterThan(scriptCalls - 4);

  // Redis restarted with an empty script cache: each script is sent whole once more, and works.
  await redis.script('FLUSH');
  await redis.config('RESETSTAT');
  const lock = await locks.acquire('connector-a');
  await lock!.release();
  await lock!.release();
  expect(await redis.exists('scripts:{poll}:lock:connector-a')).toBe(0);
  const again = await commandCalls();
  expect(again.eval).toBe(1);
  expect(again.evalsha).toBeGreaterThanOrEqual(2);
  errors.close();
});
