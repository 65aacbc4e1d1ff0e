import { cliActor } from '../../../workers/control-plane/audit.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { countDeadLetters } from '../../../db/queries/dead-letters.js';
import { insertDeadLetters } from '../../../db/queries/insert-dead-letters.js';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { replayDeadLetters } from '../../../workers/control-plane/dead-letter-replay.js';
import { createLogger } from '../../../workers/logger.js';
import { openIngestQueue, type IngestQueue } from '../../../workers/queue/ingest-queue.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// A replay's records take the one way into `dossiers`, through the queue and the writer. With no writer running,
// the replay says what to check once its wait is over, stores nothing, marks nothing, and leaves no batch queued.

let env: TestEnvironment;
let ingest: IngestQueue;

beforeAll(async () => {
  env = await createTestEnvironment();
  ingest = await openIngestQueue(
    env.config.REDIS_URL,
    env.config.QUEUE_PREFIX,
    new BackgroundErrorReporter(createLogger('silent')),
  );
  await saveConnector(env.db, {
    id: 'danang',
    sourceProvinceCode: '48',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: 'http://127.0.0.1:9' },
    pollIntervalMs: 60_000,
  });
  await insertDeadLetters(env.db, [
    {
      connectorId: 'danang',
      provinceCode: '48',
      dossierCode: '48.2026.000001',
      reason: 'unknown_status',
      message: 'unknown_status of 48.2026.000001',
      rawPayload: { MaHoSo: '48.2026.000001', TrangThaiHoSo: '4', NgayCapNhat: '20261120080000', PhienBan: 3 },
      receivedAt: '2026-11-20T01:00:00.000Z',
    },
  ]);
});
afterAll(async () => {
  await ingest?.close();
  await env?.cleanup();
});

it('fails naming the writer, stores and marks nothing, and takes its batch off the queue', async () => {
  await expect(
    replayDeadLetters(env.db, ingest, { connectorId: 'danang' }, { actor: cliActor(), commitTimeoutMs: 1_500 }),
  ).rejects.toThrow(/was not committed: .*check that a writer runs/);
  expect(await env.db.selectFrom('dossiers').select('dossier_code').execute()).toEqual([]);
  expect(await countDeadLetters(env.db, { state: 'new' })).toEqual([{ reason: 'unknown_status', count: 1 }]);
  expect(await ingest.jobCounts()).toMatchObject({ waiting: 0, delayed: 0, active: 0 });
});
