import { Queue } from 'bullmq';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDatabase } from '../../../db/database.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { IngestQueue } from '../../../workers/queue/ingest-queue.js';
import { ingestMessageOf } from '../../../workers/queue/ingest-message.js';
import { createLogger } from '../../../workers/logger.js';
import { FleetMetrics } from '../../../workers/metrics.js';
import { ingestQueueName, type IngestBatch } from '../../../workers/queue/queues.js';
import { createRedis } from '../../../workers/redis.js';
import { FailedBatchSweep } from '../../../workers/writer/failed-batch-sweep.js';
import { Writer } from '../../../workers/writer/writer.js';
import { runFleet } from '../../support/fleet-process.js';
import { sparePort } from '../../support/own-services.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, deleteKeys, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// Issue #9: batches the writer gave up on stayed in BullMQ's failed set, listed nowhere, filling a Redis that
// runs with noeviction. They are kept in Postgres instead, counted, listed, retried through the writer or
// discarded, and Redis keeps only the work in flight.

let env: TestEnvironment;
let fleet: Fleet;
let ingest: IngestQueue;
let cli: Record<string, string>;
const connections: ReturnType<typeof createRedis>[] = [];
const connect = () => {
  const connection = createRedis(env.config.REDIS_URL);
  connections.push(connection);
  return connection;
};

const push = (codes: string[]): IngestBatch => ({
  origin: 'push',
  connectorId: 'stuck-push',
  provinceCode: '01',
  records: codes.map((dossierCode) =>
    dossierRecord({ dossierCode, connectorId: 'stuck-push', observedAt: new Date().toISOString() }),
  ),
  deadLetters: [],
});
// A poll page whose cursor move the database refuses with a data error: isolating records cannot help.
const refusedCursorPage = (): IngestBatch => ({
  origin: 'poll',
  connectorId: 'refused-cursor',
  provinceCode: '01',
  records: [
    dossierRecord({ dossierCode: 'cursor-1', connectorId: 'refused-cursor', observedAt: new Date().toISOString() }),
  ],
  deadLetters: [],
  cursor: { before: null, after: { updatedSince: '20261127080000', afterCode: 'cursor-1' } },
});
/** Each `fleet` command is a child process: on a loaded machine a test of several takes minutes. */
const cliTimeout = 300_000;
const rows = () => env.db.selectFrom('failed_batches').selectAll().orderBy('id').execute();
/** The two kept batches, by connector (whichever failed first). */
const keptBatches = async () => {
  const all = await rows();
  return [
    all.find((row) => row.connector_id === 'stuck-push'),
    all.find((row) => row.connector_id === 'refused-cursor'),
  ] as const;
};
const metricsText = async () => (await fetch(`${fleet.url}/metrics`)).text();

beforeAll(async () => {
  env = await createTestEnvironment();
  cli = {
    DATABASE_URL: env.config.DATABASE_URL,
    REDIS_URL: env.config.REDIS_URL,
    QUEUE_PREFIX: env.config.QUEUE_PREFIX,
  };
  for (const id of ['stuck-push', 'refused-cursor']) {
    await saveConnector(env.db, {
      id,
      sourceProvinceCode: '01',
      sourceCodeSet: '2025',
      kind: 'national-rest',
      config: { baseUrl: 'http://127.0.0.1:9' },
      pollIntervalMs: 3_600_000,
    });
  }
  // A fault no retry fixes while it lasts (not a data error: the batch is retried, then given up on), and a
  // refused cursor move (a data error: given up on at once).
  await sql`
    CREATE FUNCTION refuse_stuck() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.dossier_code LIKE 'stuck-%' THEN RAISE EXCEPTION 'the test refuses this batch' USING ERRCODE = '55000'; END IF;
      RETURN NEW;
    END $$`.execute(env.db);
  await sql`CREATE TRIGGER refuse_stuck AFTER INSERT ON dossier_events FOR EACH ROW EXECUTE FUNCTION refuse_stuck()`.execute(
    env.db,
  );
  await sql`
    CREATE FUNCTION refuse_cursor() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'the test refuses this cursor' USING ERRCODE = '22023';
    END $$`.execute(env.db);
  await sql`CREATE TRIGGER refuse_cursor BEFORE INSERT OR UPDATE ON sync_cursors FOR EACH ROW WHEN (NEW.connector_id = 'refused-cursor') EXECUTE FUNCTION refuse_cursor()`.execute(
    env.db,
  );
  ingest = new IngestQueue(
    connect(),
    env.config.QUEUE_PREFIX,
    connect,
    new BackgroundErrorReporter(createLogger('silent')),
  );
  fleet = await startFleet(env.config, ['gateway', 'writer'], createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  await ingest?.close();
  for (const connection of connections) connection.disconnect();
  await env?.cleanup();
});

it('keeps a batch that spent its retries and one refused for good in failed_batches, not in Redis, and counts them', async () => {
  await ingest.queueOf('01').add('batch', ingestMessageOf(push(['stuck-1', 'stuck-2'])), { attempts: 3 });
  await ingest.add(refusedCursorPage());

  await waitFor(async () => (await rows()).length === 2, 'both batches kept in failed_batches', 60_000);
  const [stuck, refused] = await keptBatches();
  expect(stuck).toMatchObject({
    province_code: '01',
    connector_id: 'stuck-push',
    origin: 'push',
    records: 2,
    dead_letters: 0,
    attempts: 3,
    failures: 1,
    state: 'failed',
  });
  expect(stuck!.error).toContain('the test refuses this batch');
  expect(JSON.parse(stuck!.batch)).toMatchObject({
    connectorId: 'stuck-push',
    origin: 'push',
    records: [{ dossierCode: 'stuck-1' }, { dossierCode: 'stuck-2' }],
  });
  expect(refused).toMatchObject({
    connector_id: 'refused-cursor',
    origin: 'poll',
    records: 1,
    attempts: 1,
    state: 'failed',
  });
  // The description names the SQLSTATE, never what Postgres's message quotes.
  expect(refused!.error).toMatch(/^SQLSTATE 22023: /);
  expect(refused!.error).not.toContain('the test refuses this cursor');

  await waitFor(async () => (await ingest.queueOf('01').getFailedCount()) === 0, 'the failed set emptied', 30_000);
  expect(await env.db.selectFrom('dossiers').select('dossier_code').execute()).toEqual([]);
  const metrics = await metricsText();
  expect(metrics).toMatch(/^dossier_sync_batches_failed_total\{province="01"\} 2$/m);
  expect(metrics).toMatch(/^dossier_sync_failed_batches\{province="01"\} 2$/m);
});

it('keeps the same batch failing again (a poll page read run after run) as one row, counted', async () => {
  const before = await rows();
  await ingest.add(refusedCursorPage());
  await waitFor(
    async () => (await rows()).find((row) => row.connector_id === 'refused-cursor')!.failures === 2,
    'the second failure counted on the same row',
    60_000,
  );
  expect(await rows()).toHaveLength(before.length);
  await waitFor(async () => (await ingest.queueOf('01').getFailedCount()) === 0, 'the failed set emptied', 30_000);
  expect(await metricsText()).toMatch(/^dossier_sync_batches_failed_total\{province="01"\} 3$/m);
});

it(
  'fleet failed-batch lists and shows them',
  async () => {
    const [stuck, refused] = await keptBatches();
    const list = await runFleet(['failed-batch', 'list'], cli);
    expect(list.code).toBe(0);
    expect(list.output).toMatch(/^province 01: 2$/m);
    expect(list.output).toMatch(
      new RegExp(`^${stuck!.id} .* 01 +stuck-push +push +2 +0 +3 +1 +failed +.*the test refuses this batch`, 'm'),
    );
    expect(list.output).toMatch(
      new RegExp(`^${refused!.id} .* refused-cursor +poll +1 +0 +1 +2 +failed +SQLSTATE 22023`, 'm'),
    );
    expect((await runFleet(['failed-batch', 'list', '--connector', 'refused-cursor'], cli)).output).not.toContain(
      'stuck-push',
    );

    const show = await runFleet(['failed-batch', 'show', stuck!.id], cli);
    expect(show.code).toBe(0);
    expect(show.output).toContain('records: 2 (stuck-1, stuck-2)');
    expect(show.output).toContain('cursor move: none');
  },
  cliTimeout,
);

it(
  'fleet failed-batch retry gets a batch written through the queue and the writer, discard marks one',
  async () => {
    const [stuck] = await keptBatches();
    // The fault is fixed; the retry goes through the queue and the writer, like any batch.
    await sql`DROP TRIGGER refuse_stuck ON dossier_events`.execute(env.db);
    const retry = await runFleet(['failed-batch', 'retry', stuck!.id], cli);
    expect(retry).toMatchObject({
      code: 0,
      output: expect.stringContaining('retried 1 failed batch (2 records and dead letters)'),
    });
    await waitFor(
      async () =>
        (await env.db.selectFrom('dossiers').select('dossier_code').where('connector_id', '=', 'stuck-push').execute())
          .length === 2,
      'the retried batch written',
      60_000,
    );
    // Retrying again does nothing: it is no longer failed.
    expect((await runFleet(['failed-batch', 'retry', stuck!.id], cli)).output).toContain('nothing to retry');

    const discard = await runFleet(['failed-batch', 'discard', '--connector', 'refused-cursor'], cli);
    expect(discard).toMatchObject({ code: 0, output: expect.stringContaining('discarded 1 failed batch') });
    expect((await keptBatches()).map((row) => row!.state)).toEqual(['retried', 'discarded']);
    expect((await runFleet(['failed-batch', 'list'], cli)).output).toContain('no failed batches match');
    expect((await runFleet(['failed-batch', 'list', '--state', 'all'], cli)).output).toMatch(/^province 01: 2$/m);
    await waitFor(
      async () => !/^dossier_sync_failed_batches\{province="01"\} [1-9]/m.test(await metricsText()),
      'the gauge back to 0',
      10_000,
    );
  },
  cliTimeout,
);

it(
  'refuses bad input with exit 2 and an unknown batch with exit 3, in one line',
  async () => {
    expect(await runFleet(['failed-batch', 'discard'], cli)).toMatchObject({
      code: 2,
      output: expect.stringMatching(/expected failed batch ids, a filter .*or --all-failed/),
    });
    expect(await runFleet(['failed-batch', 'show', 'abc'], cli)).toMatchObject({
      code: 2,
      output: expect.stringMatching(/"abc" is not a failed batch id/),
    });
    expect(await runFleet(['failed-batch', 'show', '999999'], cli)).toMatchObject({
      code: 3,
      output: expect.stringMatching(/no failed batch 999999/),
    });
    expect(await runFleet(['failed-batch', 'list', '--state', 'nope'], cli)).toMatchObject({
      code: 2,
      output: expect.stringMatching(/--state "nope" is not a state; expected one of failed, retried, discarded, all/),
    });
    expect(await runFleet(['failed-batch', 'list', '--since', 'yesterday'], cli)).toMatchObject({
      code: 2,
      output: expect.stringMatching(/--since "yesterday" is not a time/),
    });
  },
  cliTimeout,
);

it('a batch that failed while Postgres was down stays in Redis, and moves to Postgres once it is back', async () => {
  const prefix = `${env.config.QUEUE_PREFIX}-down`;
  const down = createDatabase(`postgres://postgres@127.0.0.1:${await sparePort()}/nothing`, { maxConnections: 1 });
  const queue = new Queue<IngestBatch>(ingestQueueName('01'), { connection: connect(), prefix });
  const metrics = new FleetMetrics();
  const sources = [{ province: '01', queue }];
  const sweepWhileDown = new FailedBatchSweep(down, sources, metrics.batchesFailed, createLogger('silent'));
  const writer = new Writer(down, connect(), metrics, createLogger('silent'), {
    prefix,
    onBatchFailed: () => sweepWhileDown.soon(),
  });
  try {
    writer.start();
    await queue.add('batch', push(['down-1']), { attempts: 1 });
    await waitFor(async () => (await queue.getFailedCount()) === 1, 'the batch failed: Postgres is down', 30_000);
    expect(await sweepWhileDown.sweep()).toBe(0);
    expect(await queue.getFailedCount()).toBe(1);

    // Postgres is back (here: a writer that reaches it).
    const sweep = new FailedBatchSweep(env.db, sources, metrics.batchesFailed, createLogger('silent'));
    expect(await sweep.sweep()).toBe(1);
    expect(await queue.getFailedCount()).toBe(0);
    expect(
      await env.db
        .selectFrom('failed_batches')
        .select(['connector_id', 'records', 'state'])
        .where('batch', 'like', '%down-1%')
        .execute(),
    ).toEqual([{ connector_id: 'stuck-push', records: 1, state: 'failed' }]);
    expect((await metrics.batchesFailed.get()).values).toEqual([
      expect.objectContaining({ labels: { province: '01' }, value: 1 }),
    ]);
  } finally {
    await writer.close();
    await sweepWhileDown.close();
    await queue.close();
    await down.destroy();
    await deleteKeys(env.config.REDIS_URL, prefix);
  }
});
