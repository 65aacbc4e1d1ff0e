import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DossierStatus } from '../../../connectors/sdk/dossier-status.js';
import type { DossierRecord } from '../../../connectors/sdk/dossier-record.js';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { IngestQueue } from '../../../workers/queue/ingest-queue.js';
import { createLogger } from '../../../workers/logger.js';
import { FleetMetrics } from '../../../workers/metrics.js';
import type { IngestBatch } from '../../../workers/queue/queues.js';
import { createRedis } from '../../../workers/redis.js';
import { Writer } from '../../../workers/writer/writer.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// Issue #13, the writer's side: an unexpected transition is applied and recorded, a version that went backwards is
// recorded and not applied, each once however often its batch is delivered, and counted in
// dossier_sync_anomalies_total{connector,kind} by the rows the commit added. Batches go through the real queue and
// writer; a redelivery is the same batch written again.

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
beforeEach(async () => {
  await sql`TRUNCATE dossiers, dossier_events, dossier_anomalies`.execute(env.db);
  metrics.anomalies.reset();
});

const connectorId = 'hanoi-dvc';

/** One state of dossier `code`: version, status and the source's update time. */
const state = (code: string, version: number, status: DossierStatus, updatedAt: string): DossierRecord =>
  dossierRecord({
    dossierCode: code,
    connectorId,
    sourceVersion: version,
    status,
    sourceStatus: String(status),
    sourceUpdatedAt: updatedAt,
    observedAt: updatedAt,
  });

const write = (...records: DossierRecord[]) => {
  const batch: IngestBatch = { origin: 'poll', connectorId, provinceCode: '01', records, deadLetters: [] };
  return ingest.addAndWait(batch, 90_000);
};

const current = (code: string) =>
  env.db
    .selectFrom('dossiers')
    .select(['status', 'source_version'])
    .where('dossier_code', '=', code)
    .executeTakeFirstOrThrow();

const anomalies = () =>
  env.db
    .selectFrom('dossier_anomalies')
    .select([
      'province_code',
      'dossier_code',
      'connector_id',
      'kind',
      'from_status',
      'to_status',
      'stored_version',
      'source_version',
      'reconcile_run_id',
    ])
    .orderBy('dossier_code')
    .orderBy('id')
    .execute();

async function counted(kind: string): Promise<number> {
  const { values } = await metrics.anomalies.get();
  return values
    .filter((value) => value.labels.connector === connectorId && value.labels.kind === kind)
    .reduce((sum, value) => sum + value.value, 0);
}

describe('an unexpected transition', () => {
  it('is applied, recorded once and counted once, even when its batch is delivered again', async () => {
    await write(state('A', 1, 10, '2026-11-02T01:00:00.000Z'));
    // 10 (result returned) is final: 10 → 4 is not in the model, but the province's system is the record.
    const batch = [state('A', 2, 4, '2026-11-03T01:00:00.000Z')];
    const first = await write(...batch);
    expect(first).toMatchObject({ updated: 1, anomalies: [{ connectorId, kind: 'unexpected_transition', count: 1 }] });
    expect(await current('A')).toEqual({ status: 4, source_version: '2' });

    const again = await write(...batch);
    expect(again).toMatchObject({ updated: 0, unchanged: 1, anomalies: [] });
    expect(await anomalies()).toEqual([
      {
        province_code: '01',
        dossier_code: 'A',
        connector_id: connectorId,
        kind: 'unexpected_transition',
        from_status: 10,
        to_status: 4,
        stored_version: '1',
        source_version: '2',
        reconcile_run_id: null,
      },
    ]);
    expect(await counted('unexpected_transition')).toBe(1);
  });

  it('is recorded for each dossier of a batch whose change the model refuses, and only for those', async () => {
    await write(
      state('B', 1, 1, '2026-11-02T01:00:00.000Z'),
      state('C', 1, 3, '2026-11-02T01:00:00.000Z'),
      state('D', 1, 9, '2026-11-02T01:00:00.000Z'),
    );
    await write(
      // 1 → 9 skips processing; 3 (refused at intake) is final; 9 → 10 is the model's.
      state('B', 2, 9, '2026-11-03T01:00:00.000Z'),
      state('C', 2, 2, '2026-11-03T01:00:00.000Z'),
      state('D', 2, 10, '2026-11-03T01:00:00.000Z'),
    );
    expect((await anomalies()).map((row) => [row.dossier_code, row.from_status, row.to_status])).toEqual([
      ['B', 1, 9],
      ['C', 3, 2],
    ]);
    expect(await counted('unexpected_transition')).toBe(2);
  });
});

describe('what is not an anomaly', () => {
  it('an allowed transition and a repeat of the same status (a due date moved) record nothing', async () => {
    await write(state('E', 1, 2, '2026-11-02T01:00:00.000Z'));
    expect(await write(state('E', 2, 5, '2026-11-03T01:00:00.000Z'))).toMatchObject({ updated: 1, anomalies: [] });
    const moved = { ...state('E', 3, 5, '2026-11-04T01:00:00.000Z'), dueAt: '2026-11-20T10:00:00.000Z' };
    expect(await write(moved)).toMatchObject({ updated: 1, anomalies: [] });
    expect(await current('E')).toEqual({ status: 5, source_version: '3' });
    expect(await anomalies()).toEqual([]);
    expect(await counted('unexpected_transition')).toBe(0);
  });

  it('a late older version with an older update time is neither applied nor recorded, and enters the history', async () => {
    await write(state('F', 5, 9, '2026-11-05T01:00:00.000Z'));
    const late = await write(state('F', 3, 4, '2026-11-03T01:00:00.000Z'));
    expect(late).toMatchObject({ updated: 0, unchanged: 1, events: 1, anomalies: [] });
    expect(await current('F')).toEqual({ status: 9, source_version: '5' });
    expect(await anomalies()).toEqual([]);
    expect(await counted('version_backwards')).toBe(0);
  });
});

describe('a version that went backwards', () => {
  it('is not applied, is recorded with both versions and statuses, once through a redelivery, and counted', async () => {
    await write(state('G', 7, 4, '2026-11-05T01:00:00.000Z'));
    // A lower version that claims to be more recent in source time: the source went backwards.
    const batch = [state('G', 6, 2, '2026-11-06T01:00:00.000Z')];
    const first = await write(...batch);
    expect(first).toMatchObject({
      updated: 0,
      unchanged: 1,
      anomalies: [{ connectorId, kind: 'version_backwards', count: 1 }],
    });
    expect(await current('G')).toEqual({ status: 4, source_version: '7' });

    expect(await write(...batch)).toMatchObject({ updated: 0, anomalies: [] });
    expect(await anomalies()).toEqual([
      {
        province_code: '01',
        dossier_code: 'G',
        connector_id: connectorId,
        kind: 'version_backwards',
        from_status: 4,
        to_status: 2,
        stored_version: '7',
        source_version: '6',
        reconcile_run_id: null,
      },
    ]);
    expect(await counted('version_backwards')).toBe(1);
  });

  it('is recorded when the update time is the same as the stored one', async () => {
    await write(state('H', 7, 4, '2026-11-05T01:00:00.000Z'));
    await write(state('H', 6, 4, '2026-11-05T01:00:00.000Z'));
    expect(await current('H')).toEqual({ status: 4, source_version: '7' });
    expect(
      (await anomalies()).map((row) => [row.dossier_code, row.kind, row.stored_version, row.source_version]),
    ).toEqual([['H', 'version_backwards', '7', '6']]);
  });

  it('is recorded beside the other kinds of one batch, each counted by kind', async () => {
    await write(state('I', 2, 7, '2026-11-05T01:00:00.000Z'), state('J', 4, 4, '2026-11-05T01:00:00.000Z'));
    const outcome = await write(
      // 7 (withdrawn) is final: reopened by the source; and J's version going backwards.
      state('I', 3, 4, '2026-11-06T01:00:00.000Z'),
      state('J', 1, 9, '2026-11-06T01:00:00.000Z'),
    );
    expect(outcome.anomalies).toEqual(
      expect.arrayContaining([
        { connectorId, kind: 'unexpected_transition', count: 1 },
        { connectorId, kind: 'version_backwards', count: 1 },
      ]),
    );
    expect(outcome.anomalies).toHaveLength(2);
    expect(await current('I')).toEqual({ status: 4, source_version: '3' });
    expect(await current('J')).toEqual({ status: 4, source_version: '4' });
    expect(await counted('unexpected_transition')).toBe(1);
    expect(await counted('version_backwards')).toBe(1);
    const metricsText = await metrics.registry.metrics();
    expect(metricsText).toMatch(
      /^dossier_sync_anomalies_total\{connector="hanoi-dvc",kind="unexpected_transition"\} 1$/m,
    );
    expect(metricsText).toMatch(/^dossier_sync_anomalies_total\{connector="hanoi-dvc",kind="version_backwards"\} 1$/m);
  });
});
