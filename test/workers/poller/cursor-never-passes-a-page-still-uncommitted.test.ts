import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { commitCursor, readCursor } from '../../../db/queries/sync-cursors.js';
import type { IngestBatch } from '../../../workers/queue/queues.js';
import { runPoll } from '../../../workers/poller/poll-run.js';
import { writeBatch, type WriteOutcome } from '../../../workers/writer/write-batch.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { PagedConnector, sinceOfPage } from './paged-connector.js';

// Several pages of one connector are in flight at once; their batches may commit in any order (a retried batch,
// several writer processes). The cursor must still reach a page's position only once every page before it is
// committed (DESIGN.md guarantee 1), and reach the end once all are.

const pageCount = 6;
const perPage = 50;

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
  await saveConnector(env.db, {
    id: 'paged-01',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: 'http://127.0.0.1:9' },
    pollIntervalMs: 3_600_000,
  });
});
afterAll(async () => {
  await env?.cleanup();
});

it('keeps the cursor behind a held page while later pages commit, then moves it to the end', async () => {
  const committedPages: number[] = [];
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let handed = 0;
  const sink = {
    addAndWait: async (batch: IngestBatch): Promise<WriteOutcome> => {
      const page = ++handed;
      // Page 2's commit waits until it is released: pages 3, 4 and 5 commit first (page 1 settled, four in flight).
      if (page === 2) await held;
      const outcome = await writeBatch(env.db, batch);
      committedPages.push(page);
      return outcome;
    },
  };
  const run = runPoll({
    connector: new PagedConnector(pageCount, perPage),
    connectorId: 'paged-01',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    committed: null,
    sink,
    pagesInFlight: 4,
    catchUpCursor: (move, records) => commitCursor(env.db, 'paged-01', move, records),
  });

  await waitFor(async () => [1, 3, 4, 5].every((page) => committedPages.includes(page)), 'pages 1, 3, 4, 5 committed');
  // Pages 1, 3, 4 and 5 are stored; page 2 is not: the cursor stays after page 1.
  expect(await readCursor(env.db, 'paged-01')).toEqual({ since: sinceOfPage(1) });
  const stored = await env.db.selectFrom('dossiers').select('dossier_code').execute();
  expect(stored).toHaveLength(4 * perPage);

  release();
  const result = await run;
  expect(result).toMatchObject({ pages: pageCount, records: pageCount * perPage, more: false });
  expect(committedPages.indexOf(2)).toBeGreaterThan(committedPages.indexOf(5));
  expect(await readCursor(env.db, 'paged-01')).toEqual({ since: sinceOfPage(pageCount) });
  const cursorRow = await env.db
    .selectFrom('sync_cursors')
    .select('records_committed')
    .where('connector_id', '=', 'paged-01')
    .executeTakeFirstOrThrow();
  // Every page's records are counted once, whether its own batch or the catch-up moved the cursor.
  expect(Number(cursorRow.records_committed)).toBe(pageCount * perPage);
  expect(await env.db.selectFrom('dossiers').select('dossier_code').execute()).toHaveLength(pageCount * perPage);
});

it('hands over no more than pagesInFlight pages before the first of them is committed', async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let handed = 0;
  const run = runPoll({
    connector: new PagedConnector(pageCount, perPage),
    connectorId: 'paged-01',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    committed: null,
    sink: {
      addAndWait: async (batch: IngestBatch) => {
        handed += 1;
        await held;
        return writeBatch(env.db, batch);
      },
    },
    pagesInFlight: 3,
  });
  await waitFor(async () => handed === 3, 'three pages handed over');
  // Generous: a fourth page would be handed over at once if the limit did not hold.
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(handed).toBe(3);
  release();
  await run;
  expect(handed).toBe(pageCount);
});
