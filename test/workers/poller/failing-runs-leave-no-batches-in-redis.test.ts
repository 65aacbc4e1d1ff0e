import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createConnector } from '../../../connectors/plugins.js';
import type { ReadableConnector } from '../../../connectors/sdk/connector.js';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { IngestQueue } from '../../../workers/queue/ingest-queue.js';
import { createLogger } from '../../../workers/logger.js';
import { FleetMetrics } from '../../../workers/metrics.js';
import { runPoll } from '../../../workers/poller/poll-run.js';
import { createRedis } from '../../../workers/redis.js';
import { Writer } from '../../../workers/writer/writer.js';
import { startProvinceServer, type ProvinceServer } from '../../connectors/national-rest/province-server.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { nationalUpdate } from '../webhooks/webhook-client.js';

// Issue #9: each poll run whose batch could not be committed left that batch in Redis (retrying, then failed)
// while the next run queued the same page again: with noeviction, Redis fills and the whole fleet stops. A run
// that gives up on its batch takes it off the queue — the next run reads the page again from the committed cursor.

let env: TestEnvironment;
let source: ProvinceServer;
let ingest: IngestQueue;
let writer: Writer;
const connections: ReturnType<typeof createRedis>[] = [];
const connect = () => {
  const connection = createRedis(env.config.REDIS_URL);
  connections.push(connection);
  return connection;
};

beforeAll(async () => {
  env = await createTestEnvironment();
  source = await startProvinceServer();
  await saveConnector(env.db, {
    id: 'slow-writes',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: source.url },
    pollIntervalMs: 3_600_000,
  });
  // Postgres keeps failing this connector's writes, with an error a retry might fix (not a data error).
  await sql`
    CREATE FUNCTION refuse_for_now() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'not now' USING ERRCODE = '55000';
    END $$`.execute(env.db);
  await sql`CREATE TRIGGER refuse_for_now AFTER INSERT ON dossier_events FOR EACH ROW WHEN (NEW.connector_id = 'slow-writes') EXECUTE FUNCTION refuse_for_now()`.execute(
    env.db,
  );
  ingest = new IngestQueue(
    connect(),
    env.config.QUEUE_PREFIX,
    connect,
    new BackgroundErrorReporter(createLogger('silent')),
  );
  writer = new Writer(env.db, connect(), new FleetMetrics(), createLogger('silent'), {
    prefix: env.config.QUEUE_PREFIX,
  });
  writer.start();
});
afterAll(async () => {
  await writer?.close();
  await ingest?.close();
  for (const connection of connections) connection.disconnect();
  await source?.close();
  await env?.cleanup();
});

it('leaves no batch in Redis after runs that could not commit theirs, and the page commits once the fault is gone', async () => {
  const page = { items: [nationalUpdate('S01'), nationalUpdate('S02')], hasMore: false };
  const connector = createConnector({
    id: 'slow-writes',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: source.url },
  }) as ReadableConnector;
  const run = () =>
    runPoll({
      connector,
      connectorId: 'slow-writes',
      sourceProvinceCode: '01',
      sourceCodeSet: '2025',
      committed: null,
      sink: ingest,
      commitTimeoutMs: 3_000,
    });

  for (let n = 0; n < 3; n++) {
    source.answer({ status: 200, body: page });
    await expect(run()).rejects.toThrow(/was not committed/);
  }
  const counts = await ingest.jobCounts();
  expect({
    waiting: counts.waiting,
    delayed: counts.delayed,
    active: counts.active,
    failed: counts.failed,
    prioritized: counts.prioritized,
  }).toEqual({ waiting: 0, delayed: 0, active: 0, failed: 0, prioritized: 0 });

  await sql`DROP TRIGGER refuse_for_now ON dossier_events`.execute(env.db);
  source.answer({ status: 200, body: page });
  expect(await run()).toMatchObject({ pages: 1, records: 2 });
  expect(await env.db.selectFrom('dossiers').select('dossier_code').orderBy('dossier_code').execute()).toEqual([
    { dossier_code: 'S01' },
    { dossier_code: 'S02' },
  ]);
});
