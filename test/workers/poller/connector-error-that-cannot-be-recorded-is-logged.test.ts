import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { createDatabase } from '../../../db/database.js';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { IngestQueue } from '../../../workers/queue/ingest-queue.js';
import { FleetMetrics } from '../../../workers/metrics.js';
import { Poller } from '../../../workers/poller/poller.js';
import { queueNames } from '../../../workers/queue/queues.js';
import { createRedis } from '../../../workers/redis.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// A failed poll run is recorded as the connector's last error (`fleet connector list`). When even that cannot
// be written — Postgres refused the connection meanwhile — the failure to record it is logged as an error
// naming the connector and counted, instead of being swallowed.

let env: TestEnvironment;
let server: Server;
const lines: Record<string, unknown>[] = [];
const logger = pino(
  { level: 'info' },
  { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
);
const metrics = new FleetMetrics();
const redisConnections: ReturnType<typeof createRedis>[] = [];
const open = () => {
  const connection = createRedis(env.config.REDIS_URL);
  redisConnections.push(connection);
  return connection;
};

beforeAll(async () => {
  env = await createTestEnvironment();
  const database = new URL(env.config.DATABASE_URL).pathname.slice(1);
  const admin = createDatabase(Object.assign(new URL(env.config.DATABASE_URL), { pathname: '/postgres' }).toString(), {
    maxConnections: 1,
  });
  // The province system answers only once this fleet's database has stopped taking connections.
  server = createServer((_request, response) => {
    void (async () => {
      await sql`ALTER DATABASE ${sql.id(database)} ALLOW_CONNECTIONS false`.execute(admin);
      await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${database} AND pid <> pg_backend_pid()`.execute(
        admin,
      );
      await admin.destroy();
      response.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await saveConnector(env.db, {
    id: 'hue-unrecorded',
    sourceProvinceCode: '46',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` },
    pollIntervalMs: 3_600_000,
  });
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  const admin = createDatabase(Object.assign(new URL(env.config.DATABASE_URL), { pathname: '/postgres' }).toString(), {
    maxConnections: 1,
  });
  await sql`ALTER DATABASE ${sql.id(new URL(env.config.DATABASE_URL).pathname.slice(1))} ALLOW_CONNECTIONS true`.execute(
    admin,
  );
  await admin.destroy();
  for (const connection of redisConnections) connection.disconnect();
  await env?.cleanup();
});

it("logs and counts a connector's error that Postgres would not take", async () => {
  const reporter = new BackgroundErrorReporter(logger, { counter: metrics.backgroundErrors });
  const db = createDatabase(env.config.DATABASE_URL, { maxConnections: 2 });
  const ingest = new IngestQueue(open(), env.config.QUEUE_PREFIX, open, reporter);
  const poller = new Poller(db, open(), ingest, metrics, logger, { prefix: env.config.QUEUE_PREFIX, errors: reporter });
  const polls = new Queue(queueNames.poll, { connection: open(), prefix: env.config.QUEUE_PREFIX });
  poller.start();
  try {
    await polls.add('poll', { connectorId: 'hue-unrecorded' });
    await waitFor(
      () => lines.some((line) => line.kind === 'record_connector_error'),
      'the unrecorded connector error logged',
      60_000,
      50,
    );
    expect(lines.find((line) => line.kind === 'record_connector_error')).toMatchObject({
      level: 50,
      component: 'poller',
      connector: 'hue-unrecorded',
      province: '46',
      // Refused a new connection, or a pooled one terminated as the database stopped taking them: either way the
      // database would not take it.
      err: expect.stringMatching(
        /not currently accepting connections|terminating connection due to administrator command/,
      ),
      msg: expect.stringMatching(/^could not record a connector's error/),
    });
    // The run's own failure is in the log before it.
    expect(
      lines.findIndex((line) => line.msg === 'poll run failed; the next run resumes from the committed cursor'),
    ).toBeLessThan(lines.findIndex((line) => line.kind === 'record_connector_error'));
    const counted = (await metrics.backgroundErrors.get()).values.find(
      (value) => value.labels.kind === 'record_connector_error',
    );
    expect(counted?.value).toBe(1);
  } finally {
    await poller.close();
    await polls.close();
    await ingest.close();
    await db.destroy();
    reporter.close();
  }
});
