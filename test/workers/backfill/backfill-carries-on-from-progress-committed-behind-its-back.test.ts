import { afterAll, beforeAll, expect, it } from 'vitest';
import { nationalRestPlugin } from '../../../connectors/national-rest/national-rest-connector.js';
import type { Json } from '../../../connectors/sdk/connector.js';
import { mapItems } from '../../../connectors/sdk/normalise.js';
import { findBackfillRun, insertBackfillRun } from '../../../db/queries/backfill-runs.js';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { runBackfill, windowAt, windowCount } from '../../../workers/backfill/backfill-run.js';
import type { IngestBatch } from '../../../workers/queue/ingest-message.js';
import { writeBatch } from '../../../workers/writer/write-batch.js';
import { compareWithTruth, duplicateHistoryRows } from '../../support/simulator-truth.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// What a restarted backfill meets when the killed process's last batch is committed after the restart read the
// progress: its own first batch does not move the progress, and it must carry on from what is stored.

const baseTime = new Date('2026-11-20T00:00:00Z');
let env: TestEnvironment;
let simulator: ProvinceSimulator;
let url: string;

beforeAll(async () => {
  env = await createTestEnvironment();
  simulator = new ProvinceSimulator({ provinces: ['79'], dossiersPerProvince: 3_000, seed: 2, baseTime, paused: true });
  url = await simulator.start();
});
afterAll(async () => {
  await simulator?.stop();
  await env?.cleanup();
});

it('re-reads the stored progress when a batch did not move it, and counts every record once', async () => {
  const connector = nationalRestPlugin.create({
    id: 'sim-79',
    sourceProvinceCode: '79',
    sourceCodeSet: '2025',
    config: nationalRestPlugin.configSchema.parse({
      baseUrl: url,
      pageSize: 50,
      rateLimit: { requestsPerSecond: 500 },
    }),
  });
  const range = { from: new Date(baseTime.getTime() - 30 * 86_400_000), to: baseTime, windowHours: 24 };
  const run = (await insertBackfillRun(env.db, {
    connectorId: 'sim-79',
    provinceCode: '79',
    ...range,
    windowsTotal: windowCount(range),
    startedBy: 'cli:test',
  }))!;
  const batchOf = (items: unknown[], after: { windowsDone: number; position: Json | null }): IngestBatch => {
    const mapped = mapItems(connector, items, {
      connectorId: 'sim-79',
      sourceProvinceCode: '79',
      sourceCodeSet: '2025',
      observedAt: new Date(),
    });
    return {
      origin: 'poll',
      connectorId: 'sim-79',
      provinceCode: '79',
      records: mapped.records,
      deadLetters: mapped.deadLetters,
      backfill: { runId: String(run.id), before: { windowsDone: 0, position: null }, after },
    };
  };
  // The "killed process" read the first page of the first window, and its batch commits late.
  const firstWindow = windowAt(range, 0);
  const page = await connector.readWindow!(firstWindow, null);
  expect(page.items.length).toBeGreaterThan(0);
  const late = batchOf(
    page.items,
    page.next === null ? { windowsDone: 1, position: null } : { windowsDone: 0, position: page.next },
  );
  expect((await writeBatch(env.db, late)).backfillMoved).toBe(true);
  // The same batch again (a retried job) moves nothing and counts nothing.
  expect((await writeBatch(env.db, late)).backfillMoved).toBe(false);

  let notMoved = 0;
  const end = await runBackfill({
    runId: String(run.id),
    connector: connector as Parameters<typeof runBackfill>[0]['connector'],
    connectorId: 'sim-79',
    sourceProvinceCode: '79',
    sourceCodeSet: '2025',
    range,
    // What the restarted process read before the late batch committed.
    committed: { windowsDone: 0, position: null },
    sink: {
      addAndWait: async (batch) => {
        const outcome = await writeBatch(env.db, batch);
        if (!outcome.backfillMoved) notMoved += 1;
        return outcome;
      },
    },
    readPage: (window, state, signal) => connector.readWindow!(window, state, signal),
    reload: async () => {
      const stored = (await findBackfillRun(env.db, String(run.id)))!;
      return {
        status: stored.status,
        progress: { windowsDone: stored.windows_done, position: stored.position as Json | null },
      };
    },
  });
  expect(end).toBe('done');
  expect(notMoved).toBe(1);
  expect(await findBackfillRun(env.db, String(run.id))).toMatchObject({
    status: 'done',
    windows_done: 30,
    records: '3000',
  });
  expect(await compareWithTruth(env.db, simulator)).toMatchObject({
    expected: 3_000,
    missing: 0,
    different: 0,
    extra: 0,
  });
  expect(await duplicateHistoryRows(env.db)).toBe(0);
});
