import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDatabase } from '../../../db/database.js';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { dependencyChecks } from '../../../workers/http/dependency-checks.js';
import { startHttpServer } from '../../../workers/http/http-server.js';
import { FleetMetrics } from '../../../workers/metrics.js';
import { createRedis } from '../../../workers/redis.js';
import { sparePort } from '../../support/own-services.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// /readyz is for anyone who asks (load balancers, probes): it names the dependency that is down with a stable
// code and a short fixed reason. What the dependency actually said — server messages, hosts, users — goes to
// the log, never into the answer.

let env: TestEnvironment;
const closers: (() => Promise<unknown> | void)[] = [];
const password = 'NotForTheAnswer';

beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await env?.cleanup();
});

async function serve(db: ReturnType<typeof createDatabase>, redis: ReturnType<typeof createRedis>) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const metrics = new FleetMetrics();
  const { server, url } = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    metrics,
    readiness: dependencyChecks(db, redis),
    errors: new BackgroundErrorReporter(logger, { counter: metrics.backgroundErrors }),
  });
  closers.push(() => server.close());
  const ask = async () => {
    const response = await fetch(`${url}/readyz`);
    const text = await response.text();
    return { status: response.status, text, body: JSON.parse(text) as Record<string, unknown> };
  };
  return { ask, lines, url };
}

it('answers 200 with a code per dependency when both answer', async () => {
  const redis = createRedis(env.config.REDIS_URL);
  closers.push(() => redis.disconnect());
  await waitFor(() => redis.status === 'ready', 'Redis connected', 10_000, 20);
  const { ask } = await serve(env.db, redis);
  expect(await ask()).toMatchObject({
    status: 200,
    body: {
      status: 'ready',
      checks: [
        { name: 'postgres', ok: true, code: 'ok', reason: 'postgres answered' },
        { name: 'redis', ok: true, code: 'ok', reason: 'redis answered' },
        { name: 'migrations', ok: true, code: 'ok', reason: 'migrations answered' },
      ],
    },
  });
});

it('answers 503 with codes and fixed reasons when they are down, and logs what they said', async () => {
  // A database that does not exist (Postgres says so, naming it) and a Redis port nobody listens on.
  const url = new URL(env.config.DATABASE_URL);
  url.password = password;
  url.pathname = '/no_such_database_for_readiness';
  const db = createDatabase(url.toString(), { maxConnections: 1 });
  closers.push(() => db.destroy());
  const redis = createRedis(`redis://default:${password}@127.0.0.1:${await sparePort()}`);
  redis.on('error', () => {}); // the connection's own failures are another test's subject
  closers.push(() => redis.disconnect());
  const { ask, lines } = await serve(db, redis);

  const answer = await ask();
  expect(answer.status).toBe(503);
  expect(answer.body).toEqual({
    status: 'not_ready',
    checks: [
      { name: 'postgres', ok: false, code: 'postgres_unreachable', reason: 'Postgres did not answer SELECT 1' },
      { name: 'redis', ok: false, code: 'redis_unreachable', reason: 'Redis did not answer PING' },
      // Postgres down is not a pending migration: the check it keeps from answering says whose fault it is.
      {
        name: 'migrations',
        ok: false,
        code: 'postgres_unreachable',
        reason: 'Postgres did not answer the migrations query',
      },
    ],
  });
  expect(answer.text).not.toMatch(
    /no_such_database|does not exist|ECONNREFUSED|127\.0\.0\.1|reconnecting|connecting|NotForTheAnswer/,
  );

  const postgres = lines.find((line) => line.kind === 'postgres_unreachable');
  expect(postgres).toMatchObject({
    level: 40,
    component: 'readiness',
    // One line for the kind: the postgres check's or the migrations check's, whichever failed first.
    check: expect.stringMatching(/^(postgres|migrations)$/),
    err: expect.stringMatching(/database "no_such_database_for_readiness" does not exist/),
  });
  expect(lines.find((line) => line.kind === 'redis_unreachable')).toMatchObject({
    level: 40,
    component: 'readiness',
    check: 'redis',
    err: expect.any(String),
  });
  expect(JSON.stringify(lines)).not.toContain(password);

  // Asked again and again (a probe every few seconds), the log is not flooded: the repeats wait for the interval.
  for (let i = 0; i < 5; i++) expect((await ask()).status).toBe(503);
  expect(lines.filter((line) => line.kind === 'postgres_unreachable')).toHaveLength(1);
});
