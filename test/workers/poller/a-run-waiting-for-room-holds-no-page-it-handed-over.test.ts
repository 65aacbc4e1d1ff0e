import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { runPoll } from '../../../workers/poller/poll-run.js';
import type { IngestBatch } from '../../../workers/queue/queues.js';
import { writeBatch } from '../../../workers/writer/write-batch.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { PagedConnector } from './paged-connector.js';

// Bounded memory: a run with its pages in flight waits for the oldest to commit before it reads another. While it
// waits it must hold nothing of the pages it read and handed over: a suspended async function keeps what its
// registers last held, and a poller of 34 connectors kept 34 raw pages (records, applicants' data) so, 60 % of its
// heap.

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const pageCount = 3;
const perPage = 40;

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
  await saveConnector(env.db, {
    id: 'watched-01',
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

it('lets every page it handed over be collected while it waits for room, then commits them all', async () => {
  // A weak reference to each page served: the run must not keep them alive.
  const served: WeakRef<object>[] = [];
  const connector = new PagedConnector(pageCount, perPage, (page) => served.push(new WeakRef(page)));
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let handed = 0;
  const run = runPoll({
    connector,
    connectorId: 'watched-01',
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    committed: null,
    // The writer's side: it holds each batch (the mapped records) until its commit, never the page it came from.
    sink: {
      addAndWait: async (batch: IngestBatch) => {
        handed += 1;
        await held;
        return writeBatch(env.db, batch);
      },
    },
    pagesInFlight: 2,
  });
  await waitFor(async () => handed === 2, 'two pages handed over');
  // The run now waits for page 1's commit before it reads page 3. Weak references live at least to the end of the
  // task that made them: collect in later tasks.
  for (let round = 0; round < 3 && served.some((page) => page.deref() !== undefined); round++) {
    await new Promise((done) => setImmediate(done));
    collectGarbage();
  }
  expect(served).toHaveLength(2);
  expect(served.map((page) => page.deref() === undefined)).toEqual([true, true]);

  release();
  expect(await run).toMatchObject({ pages: pageCount, records: pageCount * perPage, more: false });
  expect(await env.db.selectFrom('dossiers').select('dossier_code').execute()).toHaveLength(pageCount * perPage);
}, 60_000);
