import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ingestQueueName } from '../../../workers/queue/queues.js';
import { createRedis } from '../../../workers/redis.js';
import { keepFailedBatch } from '../../../db/queries/insert-failed-batch.js';
import { ingestBatchVersion } from '../../../workers/queue/ingest-message.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { runFleetApart } from './run-fleet-apart.js';

// A batch is kept because the writer refused it, often because its data did not match the schema (another
// release's producer, a field of the wrong type). `fleet failed-batch show` then shows what it can read of it —
// the dossier codes that are text, the dead letters whose reason is text, the cursor move — and says what is
// wrong (paths and expectations, as the writer's schema check does), never a value of a field that does not match.
// `fleet failed-batch retry` queues such a batch as it was kept, on the queue of the province that held it.

let env: TestEnvironment;
let cli: Record<string, string>;
const personal = 'Nguyễn Văn An';

const fleet = (...args: string[]) => runFleetApart(args, cli);
async function keep(batch: Record<string, unknown>): Promise<string> {
  const { id } = await keepFailedBatch(env.db, {
    provinceCode: '48',
    batch,
    error: 'ingest job batch does not match its schema',
    attempts: 1,
    failedAt: new Date('2026-11-20T02:00:00.000Z'),
    job: `ingest-48:${JSON.stringify(batch).length}:${Math.random()}`,
  });
  return id;
}

beforeAll(async () => {
  env = await createTestEnvironment();
  cli = {
    DATABASE_URL: env.config.DATABASE_URL,
    REDIS_URL: env.config.REDIS_URL,
    QUEUE_PREFIX: env.config.QUEUE_PREFIX,
    LOG_LEVEL: 'silent',
  };
});
afterAll(async () => {
  await env?.cleanup();
});

it('shows what it can read of a batch whose records and dead letters do not match, and says what is wrong', async () => {
  const good = dossierRecord({ dossierCode: '48.2026.000001', connectorId: 'danang' });
  const id = await keep({
    version: ingestBatchVersion,
    origin: 'poll',
    connectorId: 'danang',
    provinceCode: '48',
    records: [good, null, { ...good, dossierCode: 48, sourceVersion: personal }, 'not a record'],
    deadLetters: [{ reason: 'unknown_status' }, { reason: { text: personal } }, 7],
    cursor: { before: { page: 1 }, after: { page: 2 } },
  });
  const text = await fleet('failed-batch', 'show', id);
  expect(text, text.stderr).toMatchObject({ code: 0, stderr: '' });
  expect(text.stdout).toContain('records: 1 (48.2026.000001)');
  expect(text.stdout).toContain('dead letters: 1 (unknown_status: 1)');
  expect(text.stdout).toContain('cursor move: {"page":1} → {"page":2}');
  expect(text.stdout).toMatch(
    /^unreadable by this release \(what could be read is shown above\): ingest job batch version 1 does not match its schema: records\.1: /m,
  );
  expect(text.stdout).not.toContain(personal);

  const json = await fleet('failed-batch', 'show', id, '-o', 'json');
  expect(json).toMatchObject({ code: 0, stderr: '' });
  expect(JSON.parse(json.stdout)).toMatchObject({
    id,
    records: 4,
    dossierCodes: ['48.2026.000001'],
    deadLettersByReason: [{ reason: 'unknown_status', count: 1 }],
    cursor: { before: { page: 1 }, after: { page: 2 } },
    unreadable: expect.stringMatching(/^ingest job batch version 1 does not match its schema: /),
  });
  expect(json.stdout).not.toContain(personal);
}, 60_000);

it('shows a batch whose lists are not lists, or of another version, with nothing to list and the reason', async () => {
  const notLists = await keep({ origin: 'push', connectorId: 'danang', records: { 0: 'x' }, deadLetters: 'none' });
  const shown = await fleet('failed-batch', 'show', notLists);
  expect(shown).toMatchObject({ code: 0, stderr: '' });
  expect(shown.stdout).toContain('records: 0\n');
  expect(shown.stdout).toContain('dead letters: 0\n');
  expect(shown.stdout).toContain('cursor move: none');
  expect(shown.stdout).toMatch(/unreadable by this release .*: ingest job batch version 1 does not match its schema: /);

  const future = await keep({
    version: ingestBatchVersion + 1,
    origin: 'push',
    connectorId: 'danang',
    provinceCode: '48',
    records: [dossierRecord({ dossierCode: '48.2026.000002', connectorId: 'danang' })],
    deadLetters: [],
  });
  const later = await fleet('failed-batch', 'show', future);
  expect(later).toMatchObject({ code: 0, stderr: '' });
  expect(later.stdout).toContain('records: 1 (48.2026.000002)');
  expect(later.stdout).toContain(`ingest job batch of version ${ingestBatchVersion + 1}: this writer reads version`);

  // A batch this release reads says nothing of the kind.
  const readable = await keep({
    origin: 'push',
    connectorId: 'danang',
    provinceCode: '48',
    records: [dossierRecord({ dossierCode: '48.2026.000003', connectorId: 'danang' })],
    deadLetters: [],
  });
  const fine = await fleet('failed-batch', 'show', readable);
  expect(fine.stdout).toContain('records: 1 (48.2026.000003)');
  expect(fine.stdout).not.toContain('unreadable');
}, 60_000);

it('retries a batch of the wrong shape as it was kept, on the queue of the province that held it', async () => {
  const id = await keep({ origin: 'push', connectorId: 'danang', records: 'none', deadLetters: null });
  const run = await fleet('failed-batch', 'retry', id);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(run.stdout).toContain('retried 1 failed batch (0 records and dead letters)');
  const queue = new Queue(ingestQueueName('48'), {
    connection: createRedis(env.config.REDIS_URL),
    prefix: env.config.QUEUE_PREFIX,
  });
  try {
    const jobs = await queue.getJobs(['waiting']);
    expect(jobs.map((job) => job.data as unknown)).toEqual([
      { origin: 'push', connectorId: 'danang', records: 'none', deadLetters: null },
    ]);
  } finally {
    await queue.close();
  }
  const row = await env.db.selectFrom('failed_batches').select('state').where('id', '=', id).executeTakeFirstOrThrow();
  expect(row.state).toBe('retried');
}, 60_000);
