import { cliActor } from '../../../workers/control-plane/audit.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import type { DeadLetter } from '../../../connectors/sdk/normalise.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { readCursor } from '../../../db/queries/sync-cursors.js';
import { replayDeadLetters } from '../../../workers/control-plane/dead-letter-replay.js';
import { IngestQueue } from '../../../workers/queue/ingest-queue.js';
import { createLogger } from '../../../workers/logger.js';
import { FleetMetrics } from '../../../workers/metrics.js';
import type { IngestBatch } from '../../../workers/queue/queues.js';
import { createRedis } from '../../../workers/redis.js';
import { Writer } from '../../../workers/writer/writer.js';
import { dossierRecord, shuffled } from '../../support/records.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// Defence in depth (DESIGN.md guarantee 4): a batch that bypassed mapping — an older gateway in a rolling deploy,
// a plugin — and carries records Postgres refuses is split until each refused record is alone; those become
// `unstorable` dead letters and everything else commits, cursor included, in one transaction.

let env: TestEnvironment;
let ingest: IngestQueue;
let writer: Writer;
let metrics: FleetMetrics;
const connections: ReturnType<typeof createRedis>[] = [];
const connect = () => {
  const connection = createRedis(env.config.REDIS_URL);
  connections.push(connection);
  return connection;
};

beforeAll(async () => {
  env = await createTestEnvironment();
  await saveConnector(env.db, {
    id: 'bypass',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: 'http://127.0.0.1:9' },
    pollIntervalMs: 3_600_000,
  });
  ingest = new IngestQueue(
    connect(),
    env.config.QUEUE_PREFIX,
    connect,
    new BackgroundErrorReporter(createLogger('silent')),
  );
  metrics = new FleetMetrics();
  writer = new Writer(env.db, connect(), metrics, createLogger('silent'), { prefix: env.config.QUEUE_PREFIX });
  writer.start();
});
afterAll(async () => {
  await writer?.close();
  await ingest?.close();
  for (const connection of connections) connection.disconnect();
  await env?.cleanup();
});

const code = (i: number) => `01.2026.${String(i).padStart(6, '0')}`;

it('stores every storable record, dead letter and the cursor move; only the refused records become unstorable dead letters', async () => {
  const good = Array.from({ length: 60 }, (_, i) =>
    dossierRecord({ dossierCode: code(i), connectorId: 'bypass', sourceVersion: 1 }),
  );
  const poison = [
    // Beyond the years Postgres reads (22009), and before year 1 (22008).
    dossierRecord({
      dossierCode: 'poison-far-future',
      connectorId: 'bypass',
      sourceUpdatedAt: '+010000-01-01T00:00:00.000Z',
    }),
    dossierRecord({ dossierCode: 'poison-year-zero', connectorId: 'bypass', dueAt: '0000-01-01T00:00:00.000Z' }),
    // Text Postgres cannot hold: NUL (22P05) and an unpaired surrogate (22P02).
    dossierRecord({ dossierCode: 'poison-nul', connectorId: 'bypass', agencyCode: 'Sở Tư pháp\u0000' }),
    dossierRecord({ dossierCode: 'poison-surrogate\uD800', connectorId: 'bypass' }),
    // A value the database quotes in its message: the dead letter must not repeat it.
    dossierRecord({ dossierCode: 'poison-quoted', connectorId: 'bypass', submittedAt: 'Nguyễn Văn An' }),
    // A newer state of a good dossier that cannot be stored: the stored older state stays.
    dossierRecord({
      dossierCode: code(7),
      connectorId: 'bypass',
      sourceVersion: 2,
      status: 9,
      finishedAt: '-000001-01-01T00:00:00.000Z',
    }),
  ];
  const letter = (dossierCode: string, message: string): DeadLetter => ({
    connectorId: 'bypass',
    provinceCode: '01',
    dossierCode,
    reason: 'unknown_status',
    message,
    rawPayload: { MaHoSo: dossierCode, TrangThaiHoSo: '99' },
    receivedAt: '2026-11-27T00:00:00.000Z',
  });
  const deadLetters = [
    letter('letter-ok', 'TrangThaiHoSo: "99" is not a national status code'),
    letter('letter-nul\u0000', 'TrangThaiHoSo: "9\u00009"'),
  ];
  const batch: IngestBatch = {
    origin: 'poll',
    connectorId: 'bypass',
    provinceCode: '01',
    records: shuffled([...good, ...poison], 9),
    deadLetters,
    cursor: { before: null, after: { updatedSince: '20261127080000', afterCode: code(59) } },
  };

  const outcome = await ingest.addAndWait(batch, 90_000);
  expect(outcome).toMatchObject({ inserted: 60, cursorMoved: true, deadLetters: 2 + poison.length });

  const stored = await env.db
    .selectFrom('dossiers')
    .select(['dossier_code', 'source_version'])
    .orderBy('dossier_code')
    .execute();
  expect(stored).toEqual(good.map((record) => ({ dossier_code: record.dossierCode, source_version: '1' })));
  expect(await readCursor(env.db, 'bypass')).toEqual(batch.cursor!.after);
  expect(
    (await env.db.selectFrom('sync_cursors').select('records_committed').executeTakeFirstOrThrow()).records_committed,
  ).toBe(String(good.length + poison.length + deadLetters.length));

  const letters = await env.db.selectFrom('dead_letters').selectAll().orderBy('id').execute();
  const unstorable = letters.filter((row) => row.reason === 'unstorable');
  expect(unstorable.map((row) => row.dossier_code).sort()).toEqual([
    code(7),
    'poison-far-future',
    'poison-nul',
    'poison-quoted',
    'poison-surrogate\\uD800',
    'poison-year-zero',
  ]);
  const messageOf = (dossierCode: string) => unstorable.find((row) => row.dossier_code === dossierCode)!.message;
  expect(messageOf('poison-far-future')).toMatch(/SQLSTATE 22009/);
  expect(messageOf('poison-year-zero')).toMatch(/SQLSTATE 22008/);
  expect(messageOf('poison-nul')).toMatch(/SQLSTATE 22P05/);
  expect(messageOf('poison-nul')).toMatch(/agencyCode/);
  expect(messageOf('poison-surrogate\\uD800')).toMatch(/SQLSTATE 22P02/);
  expect(messageOf('poison-quoted')).toMatch(/SQLSTATE 22007/);
  for (const row of unstorable) {
    expect(row.message).not.toMatch(/Nguyễn|010000|0000-01-01|Sở Tư pháp/);
    // The refused record is kept whole, readable: the canonical record as the batch carried it.
    expect((JSON.parse(row.raw_payload) as { connectorId: string }).connectorId).toBe('bypass');
  }
  expect(JSON.parse(unstorable.find((row) => row.dossier_code === 'poison-nul')!.raw_payload)).toMatchObject({
    agencyCode: 'Sở Tư pháp\u0000',
  });

  // The dead letters the batch carried are kept too, the one with NUL in its text escaped.
  const carried = letters.filter((row) => row.reason === 'unknown_status');
  expect(carried.map((row) => [row.dossier_code, row.message])).toEqual([
    ['letter-ok', 'TrangThaiHoSo: "99" is not a national status code'],
    ['letter-nul\\u0000', 'TrangThaiHoSo: "9\\u00009"'],
  ]);

  const rejected = (await metrics.recordsRejected.get()).values.find((v) => v.labels.reason === 'unstorable');
  expect(rejected?.value).toBe(poison.length);
});

it('a batch that is only poison still commits its cursor move', async () => {
  const batch: IngestBatch = {
    origin: 'poll',
    connectorId: 'bypass',
    provinceCode: '01',
    records: [
      dossierRecord({ dossierCode: 'only-poison', connectorId: 'bypass', receivedAt: '+200000-01-01T00:00:00.000Z' }),
    ],
    deadLetters: [],
    cursor: {
      before: { updatedSince: '20261127080000', afterCode: code(59) },
      after: { updatedSince: '20261127090000', afterCode: 'only-poison' },
    },
  };
  expect(await ingest.addAndWait(batch, 90_000)).toMatchObject({ inserted: 0, cursorMoved: true, deadLetters: 1 });
  expect(await readCursor(env.db, 'bypass')).toEqual(batch.cursor!.after);
  expect(
    await env.db.selectFrom('dead_letters').select('reason').where('dossier_code', '=', 'only-poison').execute(),
  ).toEqual([{ reason: 'unstorable' }]);
});

it('a replay leaves unstorable letters as they are: they hold the record as the writer received it, not a source payload', async () => {
  const before = await env.db
    .selectFrom('dead_letters')
    .select(['id', 'reason', 'message'])
    .where('reason', '=', 'unstorable')
    .orderBy('id')
    .execute();
  expect(before.length).toBeGreaterThan(0);
  expect(await replayDeadLetters(env.db, ingest, { reason: 'unstorable' }, { actor: cliActor() })).toEqual({
    processed: before.length,
    replayed: 0,
    stillFailing: before.length,
  });
  expect(
    await env.db
      .selectFrom('dead_letters')
      .select(['id', 'reason', 'message'])
      .where('reason', '=', 'unstorable')
      .orderBy('id')
      .execute(),
  ).toEqual(before);
});
