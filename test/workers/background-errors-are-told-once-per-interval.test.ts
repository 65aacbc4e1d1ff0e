import { pino } from 'pino';
import { expect, it } from 'vitest';
import { BackgroundErrorReporter, type ErrorSource } from '../../workers/background-error-reporter.js';
import { FleetMetrics } from '../../workers/metrics.js';
import { waitFor } from '../support/test-environment.js';

// The one place failures nobody awaits are told: one log line per component and kind per interval, the
// repeats told (with their number) when it ends or the process stops, each failure counted once however many
// listeners heard it, and no credentials of a URL in an error's text.

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const metrics = new FleetMetrics();
  return {
    lines,
    metrics,
    logger,
    counted: async () =>
      (await metrics.backgroundErrors.get()).values.map(({ labels, value }) => ({ ...labels, value })),
  };
}

const connection: ErrorSource = { component: 'redis', kind: 'connection', message: 'Redis connection error' };
const renewal: ErrorSource = { component: 'poller', kind: 'lock_renewal', message: 'could not renew a poll lock' };

it('tells each source once per interval, then its repeats with their number, and counts every failure once', async () => {
  const { lines, metrics, logger, counted } = capture();
  const reporter = new BackgroundErrorReporter(logger, { counter: metrics.backgroundErrors, intervalMs: 300 });
  for (let i = 0; i < 50; i++)
    reporter.report(connection, new Error(`connect ECONNREFUSED 127.0.0.1:6379 (${i})`), { connection: 'control' });
  reporter.report(renewal, new Error('no answer'), { connector: 'hcm-igate' });
  // One failure forwarded by several listeners (a connection's error re-emitted by every queue on it).
  const shared = new Error('Connection is closed.');
  for (let i = 0; i < 5; i++) reporter.report(connection, shared);

  expect(lines.map((line) => [line.component, line.kind, line.failures])).toEqual([
    ['redis', 'connection', 1],
    ['poller', 'lock_renewal', 1],
  ]);
  expect(lines[0]).toMatchObject({
    level: 50,
    connection: 'control',
    err: 'connect ECONNREFUSED 127.0.0.1:6379 (0)',
    msg: 'Redis connection error',
  });
  expect(lines[1]).toMatchObject({ connector: 'hcm-igate' });

  await waitFor(() => lines.length === 3, 'the repeats told when the interval ends', 10_000, 20);
  expect(lines[2]).toMatchObject({
    component: 'redis',
    kind: 'connection',
    failures: 50,
    err: 'Connection is closed.',
    msg: 'Redis connection error (50 times since the last line; the last error is shown)',
  });
  expect(await counted()).toEqual(
    expect.arrayContaining([
      { component: 'redis', kind: 'connection', value: 51 },
      { component: 'poller', kind: 'lock_renewal', value: 1 },
    ]),
  );

  // A new interval: the first failure of it is told at once, the rest when the reporter closes.
  await waitFor(
    () => {
      reporter.report(renewal, new Error('no answer, again'), { connector: 'hcm-igate' });
      return lines.length === 4;
    },
    'a renewal told in the next interval',
    10_000,
    20,
  );
  for (let i = 0; i < 3; i++) reporter.report(renewal, new Error('still no answer'), { connector: 'hcm-igate' });
  reporter.close();
  expect(lines.at(-1)).toMatchObject({ component: 'poller', kind: 'lock_renewal', failures: 3 });
  const told = lines
    .filter((line) => line.kind === 'lock_renewal')
    .reduce((sum, line) => sum + (line.failures as number), 0);
  expect(told).toBe((await counted()).find((entry) => entry.kind === 'lock_renewal')!.value);
});

it('never writes the credentials of a URL an error quotes', () => {
  const { lines, logger } = capture();
  const reporter = new BackgroundErrorReporter(logger);
  reporter.report(
    connection,
    new Error('cannot reach redis://default:s3cret-Pa55@redis.internal:6379/0 and postgres://sync:0therPw@db:5432/x'),
  );
  expect(lines[0]!.err).toBe('cannot reach redis://redis.internal:6379/0 and postgres://db:5432/x');
  reporter.close();
});
