import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnFleet, type FleetProcess } from '../support/fleet-process.js';
import { OwnRedis, sparePort } from '../support/own-services.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../support/test-environment.js';

// When Redis goes away, every connection of every fleet role fails, over and over, in the background. Those
// failures must show — in the log, at most one line per component and kind per interval with the count of the
// repeats, and in a metric — rather than vanish; and /readyz says which dependency is down with a stable code
// and a short fixed reason, the raw error going to the log only.

let env: TestEnvironment;
let redis: OwnRedis;
let fleet: FleetProcess | null = null;
let port: number;
const password = 'ThePasswordNobodyMayRead';

interface LogLine {
  level: number;
  msg: string;
  component?: string;
  kind?: string;
  err?: string;
  failures?: number;
  [key: string]: unknown;
}

/** The fleet's log lines (pino JSON), in order. */
const logLines = (): LogLine[] =>
  fleet!
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);

const linesOf = (component: string, kind: string) =>
  logLines().filter((line) => line.component === component && line.kind === kind);

/** The value of `dossier_sync_background_errors_total{component, kind}` (0 when not there yet). */
async function counted(component: string, kind: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(15_000) })).text();
  const match = new RegExp(
    `^dossier_sync_background_errors_total\\{component="${component}",kind="${kind}"\\} (\\d+)$`,
    'm',
  ).exec(text);
  return match ? Number(match[1]) : 0;
}

/** How many clients the test's Redis has connected, not counting the one asking. */
async function redisClients(): Promise<number> {
  const client = new Redis({ port: redis.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await client.connect();
    const list = (await client.client('LIST')) as string;
    return list.trim().split('\n').length - 1;
  } finally {
    client.disconnect();
  }
}

async function readiness(): Promise<{
  status: number;
  text: string;
  body: { status: string; checks: { name: string; ok: boolean; code: string; reason: string }[] };
}> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(15_000) });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as never };
}

beforeAll(async () => {
  redis = await OwnRedis.start();
  env = await createTestEnvironment({ SECRETS_KEY: Buffer.alloc(32, 5).toString('base64') });
  port = await sparePort();
});
afterAll(async () => {
  if (fleet && fleet.child.exitCode === null) fleet.child.kill('SIGKILL');
  await redis?.stop();
  await env?.cleanup();
});

it('logs a Redis outage rate-limited, counts it, answers /readyz with codes only, and recovers', async () => {
  // A password in the URL (this Redis needs none, and says so): it must never reach the log or an answer.
  const redisUrl = `redis://default:${password}@127.0.0.1:${redis.port}`;
  fleet = spawnFleet(['start', '--role', 'gateway,writer,poller,scheduler'], {
    DATABASE_URL: env.config.DATABASE_URL,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: env.config.QUEUE_PREFIX,
    SECRETS_KEY: env.config.SECRETS_KEY!,
    HTTP_PORT: String(port),
    LOG_LEVEL: 'debug',
    SHUTDOWN_TIMEOUT_MS: '20000',
  });
  const startedAt = Date.now();
  // Where the time went, for a run that fails on a loaded machine.
  const step = (name: string) => console.log(`${((Date.now() - startedAt) / 1000).toFixed(1)} s: ${name}`);
  await waitFor(async () => (await readiness().catch(() => null))?.status === 200, 'the fleet ready', 60_000);
  step('ready');
  const ready = await readiness();
  expect(ready.body).toEqual({
    status: 'ready',
    checks: [
      { name: 'postgres', ok: true, code: 'ok', reason: expect.any(String) },
      { name: 'redis', ok: true, code: 'ok', reason: expect.any(String) },
      { name: 'migrations', ok: true, code: 'ok', reason: expect.any(String) },
    ],
  });

  // Every connection of every role, once all are up (the workers' blocking connections open as they start).
  let clients = 0;
  await waitFor(
    async () => {
      const now = await redisClients();
      const settled = now === clients;
      clients = now;
      return settled && now > 0;
    },
    'the fleet’s Redis connections settled',
    60_000,
    1_000,
  );
  await redis.stop();
  step(`Redis stopped (${clients} connections)`);
  // Every connection keeps failing while Redis is down: the metric counts each failure, the log tells of them
  // in one line per component and kind (the first) while the interval lasts.
  await waitFor(
    async () => (await counted('redis', 'connection')) >= 10,
    'ten Redis connection failures counted',
    90_000,
    500,
  );
  step('ten failures counted');
  const lines = linesOf('redis', 'connection');
  expect(lines.length).toBeGreaterThanOrEqual(1);
  expect(lines.length).toBeLessThan(await counted('redis', 'connection'));
  expect(lines[0]).toMatchObject({
    level: 50,
    component: 'redis',
    kind: 'connection',
    // The first failure is whichever the socket met first: a refused connect, or a write or read on the
    // connection Redis just closed.
    err: expect.stringMatching(/ECONNREFUSED|ECONNRESET|EPIPE|Connection is closed|connect|timed out/),
  });

  const down = await readiness();
  expect(down.status).toBe(503);
  expect(down.body.status).toBe('not_ready');
  expect(down.body.checks).toEqual([
    { name: 'postgres', ok: true, code: 'ok', reason: expect.any(String) },
    { name: 'redis', ok: false, code: 'redis_unreachable', reason: expect.any(String) },
    { name: 'migrations', ok: true, code: 'ok', reason: expect.any(String) },
  ]);
  // A short fixed reason: no host, port, error text or password.
  expect(down.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|connect |Connection is closed|Error/);
  expect(down.text).not.toContain(String(redis.port));
  // …while the log has what happened.
  await waitFor(
    () => linesOf('readiness', 'redis_unreachable').length > 0,
    'the failed readiness check logged',
    30_000,
  );
  expect(linesOf('readiness', 'redis_unreachable')[0]).toMatchObject({ check: 'redis', err: expect.any(String) });

  step('failed readiness logged');
  await redis.restartEmpty();
  step('Redis restarted empty');
  await waitFor(async () => (await readiness()).status === 200, 'ready again once Redis is back', 90_000, 500);
  // Ready answers for the control connection; every other one reconnects on its own back-off. Stopping while a
  // worker's connection still reconnects waits on BullMQ (taskforcesh/bullmq#4656: close() awaits an `end` a
  // reconnecting client never emits) until the shutdown deadline, so the test stops a fleet fully back.
  await waitFor(async () => (await redisClients()) >= clients, `all ${clients} Redis connections back`, 90_000, 500);
  step('ready again, every connection back');
  const failures = await counted('redis', 'connection');

  fleet.child.kill('SIGTERM');
  const stopLines = () =>
    logLines()
      .filter((line) => line.level >= 40 || /stop/.test(line.msg))
      .slice(-8)
      .map((line) => JSON.stringify(line).slice(0, 400))
      .join('\n');
  expect(await fleet.exited, `fleet exit; its last warnings and stop lines:\n${stopLines()}`).toBe(0);
  step('stopped');
  // Stopping tells the repeats not yet told: every failure counted is in the log, as a line or in a line's
  // count of repeats — and there are far fewer lines than failures.
  const told = linesOf('redis', 'connection');
  expect(told.some((line) => line.failures! > 1)).toBe(true);
  expect(told.reduce((sum, line) => sum + line.failures!, 0)).toBe(failures);
  expect(told.length).toBeLessThan(failures);
  expect(fleet.output()).not.toContain(password);
  // Longer than its waits together, so a slow step fails with its own message, not the test's timeout.
}, 400_000);
