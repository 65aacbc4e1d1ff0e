import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { FleetMetrics } from '../../../workers/metrics.js';
import { PollLock } from '../../../workers/poller/poll-lock.js';
import { createRedis } from '../../../workers/redis.js';
import { OwnRedis } from '../../support/own-services.js';
import { waitFor } from '../../support/test-environment.js';

// A poll lock is renewed in the background while its run goes on. When Redis stops answering, or comes back
// without the lock, the renewal fails: that is logged as an error naming the connector, and counted — never
// swallowed.

let redis: OwnRedis;
const lines: Record<string, unknown>[] = [];
const logger = pino(
  { level: 'info' },
  { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
);
const metrics = new FleetMetrics();

const counted = async (kind: string) =>
  (await metrics.backgroundErrors.get()).values.find(
    (value) => value.labels.component === 'poller' && value.labels.kind === kind,
  )?.value ?? 0;

beforeAll(async () => {
  redis = await OwnRedis.start();
});
afterAll(async () => {
  await redis?.stop();
});

it('logs and counts a renewal Redis does not answer, then the lock found gone once Redis is back', async () => {
  const connection = createRedis(redis.url);
  connection.on('error', () => {}); // the connection's own failures are not what this test is about
  const reporter = new BackgroundErrorReporter(logger, { counter: metrics.backgroundErrors, intervalMs: 60_000 });
  // Renewed every 300 ms.
  const lock = new PollLock(connection, 'lock-test', reporter, 900);
  const held = await lock.acquire('hcm-igate');
  expect(held).not.toBeNull();
  try {
    await redis.stop();
    await waitFor(() => lines.some((line) => line.kind === 'lock_renewal'), 'a failed renewal logged', 30_000, 50);
    expect(lines.find((line) => line.kind === 'lock_renewal')).toMatchObject({
      level: 50,
      component: 'poller',
      kind: 'lock_renewal',
      connector: 'hcm-igate',
      err: expect.stringMatching(/no answer from Redis/),
      msg: expect.stringMatching(/^could not renew a poll lock/),
    });
    await waitFor(async () => (await counted('lock_renewal')) >= 3, 'failed renewals counted', 30_000, 50);
    // Rate-limited: one line for all of them while the interval lasts.
    expect(lines.filter((line) => line.kind === 'lock_renewal')).toHaveLength(1);

    // Back, but empty: the lock is gone.
    await redis.restartEmpty();
    await waitFor(() => lines.some((line) => line.kind === 'lock_lost'), 'the lost lock logged', 30_000, 50);
    expect(lines.find((line) => line.kind === 'lock_lost')).toMatchObject({
      level: 40,
      component: 'poller',
      connector: 'hcm-igate',
      msg: expect.stringMatching(/^a poll lock lapsed/),
    });
    expect(await counted('lock_lost')).toBe(1);
  } finally {
    await held!.release();
    reporter.close();
    connection.disconnect();
  }
  // The repeats are told when the reporter closes, with their count.
  const renewals = lines.filter((line) => line.kind === 'lock_renewal');
  expect(renewals.reduce((sum, line) => sum + (line.failures as number), 0)).toBe(await counted('lock_renewal'));
});
