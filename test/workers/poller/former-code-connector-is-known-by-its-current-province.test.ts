import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Connector, Cursor, ReadState, SourcePage } from '../../../connectors/sdk/connector.js';
import type { DossierRecordInput } from '../../../connectors/sdk/dossier-record.js';
import { compareSinceCursors, sinceOf } from '../../../connectors/sdk/since-cursor.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { queueProvinceOf } from '../../../workers/queue/ingest-queue.js';
import type { IngestBatch } from '../../../workers/queue/queues.js';
import { runPoll } from '../../../workers/poller/poll-run.js';
import { writeBatch } from '../../../workers/writer/write-batch.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// `provinceCode` outside a connector's own settings always means the current (2025) province. A connector whose
// definition still uses the 2008 code set — Bắc Ninh's former code 27, merged into 24 — hands the writer batches
// of province 24 (its queue, its metric labels, its failed batches) and keeps dead letters under 24 too; only its
// settings say 27, in the 2008 set.

const updatedAt = '2026-11-20T01:00:00.000Z';
const items = [
  { code: '27.2026.00001', status: 2 },
  { code: '27.2026.00002', status: 'no such status' },
];

class FormerCodeConnector implements Connector {
  startFrom(committed: Cursor | null): ReadState {
    return { since: sinceOf(committed) };
  }
  compareCursors(a: Cursor, b: Cursor): number {
    return compareSinceCursors(a, b);
  }
  async read(): Promise<SourcePage> {
    return { items, cursor: { since: updatedAt }, next: null };
  }
  map(item: unknown): DossierRecordInput {
    const { code, status } = item as { code: string; status: unknown };
    return {
      dossierCode: code,
      status,
      sourceStatus: String(status),
      sourceUpdatedAt: new Date(updatedAt),
      sourceVersion: 1,
    } as DossierRecordInput;
  }
  mappedFields() {
    return [
      { field: 'dossierCode', path: 'code' },
      { field: 'status', path: 'status' },
    ];
  }
}

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
  await saveConnector(env.db, {
    id: 'bacninh-2008',
    sourceProvinceCode: '27',
    sourceCodeSet: '2008',
    kind: 'national-rest',
    config: { baseUrl: 'http://127.0.0.1:9' },
    pollIntervalMs: 3_600_000,
  });
});
afterAll(async () => {
  await env?.cleanup();
});

it('hands the writer batches, records and dead letters of the current province', async () => {
  const handed: IngestBatch[] = [];
  const result = await runPoll({
    connector: new FormerCodeConnector(),
    connectorId: 'bacninh-2008',
    sourceProvinceCode: '27',
    sourceCodeSet: '2008',
    committed: null,
    sink: {
      addAndWait: (batch: IngestBatch) => {
        handed.push(batch);
        return writeBatch(env.db, batch);
      },
    },
  });
  expect(result).toMatchObject({ pages: 1, records: 1, deadLetters: 1 });
  expect(handed).toHaveLength(1);
  const batch = handed[0]!;
  expect(batch.provinceCode).toBe('24');
  expect(queueProvinceOf(batch)).toBe('24');
  expect(batch.records[0]).toMatchObject({ provinceCode: '24', sourceProvinceCode: '27', sourceCodeSet: '2008' });
  expect(batch.deadLetters[0]).toMatchObject({ provinceCode: '24', reason: 'unknown_status' });

  const letters = await env.db
    .selectFrom('dead_letters')
    .select(['province_code'])
    .where('connector_id', '=', 'bacninh-2008')
    .execute();
  expect(letters).toEqual([{ province_code: '24' }]);
  const dossiers = await env.db
    .selectFrom('dossiers')
    .select(['province_code', 'source_province_code'])
    .where('connector_id', '=', 'bacninh-2008')
    .execute();
  expect(dossiers).toEqual([{ province_code: '24', source_province_code: '27' }]);
});
