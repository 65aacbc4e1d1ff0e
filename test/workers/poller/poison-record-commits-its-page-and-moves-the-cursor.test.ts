import { Queue } from 'bullmq';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { readCursor } from '../../../db/queries/sync-cursors.js';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { ingestQueueName } from '../../../workers/queue/queues.js';
import { createRedis } from '../../../workers/redis.js';
import { startProvinceServer, type ProvinceServer } from '../../connectors/national-rest/province-server.js';
import { shuffled } from '../../support/records.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { nationalUpdate } from '../webhooks/webhook-client.js';

// Issue #9, the poll path: a record Postgres cannot store used to fail its whole page on every run, so the
// connector never moved again and each run left another full batch in Redis.

let env: TestEnvironment;
let fleet: Fleet;
let mixSource: ProvinceServer;
let pageSource: ProvinceServer;
let redis: ReturnType<typeof createRedis>;
let failedSet: Queue;

const register = (id: string, source: ProvinceServer) =>
  saveConnector(env.db, {
    id,
    sourceProvinceCode: '01',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: source.url, pageSize: 1000, lookbackSeconds: 120, rateLimit: { requestsPerSecond: 50 } },
    pollIntervalMs: 300,
  });
const count = async (table: 'dossiers' | 'dead_letters', connectorId: string) =>
  Number(
    (
      await sql<{
        n: string;
      }>`SELECT count(*) AS n FROM ${sql.table(table)} WHERE connector_id = ${connectorId}`.execute(env.db)
    ).rows[0]!.n,
  );
const failedRuns = async (connectorId: string) =>
  (await fleet.metrics.pollRuns.get()).values
    .filter((v) => v.labels.connector === connectorId && v.labels.outcome === 'failed')
    .reduce((sum, v) => sum + v.value, 0);

// The valid update and the poison one (NUL in its code, an unknown status), the poison one last on the page: the
// page's cursor then names it.
const poisonCode = 'P02\u0000-poison';
const mixPage = {
  items: [
    nationalUpdate('P02-valid'),
    nationalUpdate(poisonCode, { TrangThaiHoSo: '99', NgayCapNhat: '20261127080500' }),
  ],
  hasMore: false,
};

// 1,000 records in the source's order, three of them poison at places a seed chooses.
const poisonAt = shuffled(
  Array.from({ length: 1000 }, (_, i) => i),
  20261127,
)
  .slice(0, 3)
  .sort((a, b) => a - b);
const bigPage = {
  items: Array.from({ length: 1000 }, (_, i) => {
    const code = `01.2026.${String(i).padStart(6, '0')}`;
    const updatedAt = `20261127${String(8 + Math.floor(i / 400)).padStart(2, '0')}0000`;
    const update = nationalUpdate(code, { NgayCapNhat: updatedAt });
    const kind = poisonAt.indexOf(i);
    if (kind === 0) return { ...update, MaHoSo: `${code}\u0000`, TrangThaiHoSo: '99' };
    if (kind === 1) return { ...update, MaTTHC: '2.000477\uD800' };
    if (kind === 2) return { ...update, MaHoSoKhac: `\u0000${code}` };
    return update;
  }),
  hasMore: false,
};

beforeAll(async () => {
  env = await createTestEnvironment();
  mixSource = await startProvinceServer();
  pageSource = await startProvinceServer();
  // Each source serves its page, then the same page again (the next run's look-back re-reads it), then nothing new.
  mixSource.answer({ status: 200, body: mixPage });
  mixSource.answer({ status: 200, body: mixPage });
  pageSource.answer({ status: 200, body: bigPage });
  pageSource.answer({ status: 200, body: bigPage });
  await register('poison-mix', mixSource);
  await register('poison-page', pageSource);
  redis = createRedis(env.config.REDIS_URL);
  failedSet = new Queue(ingestQueueName('01'), { connection: redis, prefix: env.config.QUEUE_PREFIX });
  fleet = await startFleet(env.config, ['scheduler', 'poller', 'writer'], createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  await failedSet?.close();
  redis?.disconnect();
  await mixSource?.close();
  await pageSource?.close();
  await env?.cleanup();
});

it('commits the good record of a page with a poison one, moves the cursor past both, and the next run does not fail', async () => {
  // Three requests: the first run, the run that re-reads the page, and one more run after it.
  await waitFor(() => mixSource.requests.length >= 3, 'three poll runs of the mixed page', 90_000);
  await waitFor(async () => (await count('dossiers', 'poison-mix')) === 1, 'the valid record committed', 30_000);

  expect(
    await env.db.selectFrom('dossiers').select('dossier_code').where('connector_id', '=', 'poison-mix').execute(),
  ).toEqual([{ dossier_code: 'P02-valid' }]);
  const letters = await env.db
    .selectFrom('dead_letters')
    .select(['dossier_code', 'reason'])
    .where('connector_id', '=', 'poison-mix')
    .execute();
  // Read twice, kept once.
  expect(letters).toEqual([{ dossier_code: 'P02\\u0000-poison', reason: 'unknown_status' }]);
  // The cursor names the poison record exactly as the source wrote it: the next run asks from there.
  expect(await readCursor(env.db, 'poison-mix')).toMatchObject({
    updatedSince: '20261127080500',
    afterCode: poisonCode,
  });
  expect(mixSource.requests[1]!.query.get('updatedSince')).toBe('20261127080300');
  expect(await failedRuns('poison-mix')).toBe(0);
  expect(
    (
      await env.db
        .selectFrom('connectors')
        .select('last_error')
        .where('id', '=', 'poison-mix')
        .executeTakeFirstOrThrow()
    ).last_error,
  ).toBeNull();
  expect(await failedSet.getFailedCount()).toBe(0);
});

it('stores 997 records of a page of 1,000 with three poison records at random places, and keeps the three as dead letters', async () => {
  expect(poisonAt).toHaveLength(3);
  await waitFor(() => pageSource.requests.length >= 3, 'three poll runs of the big page', 90_000);
  await waitFor(async () => (await count('dossiers', 'poison-page')) === 997, '997 records committed', 30_000);

  const letters = await env.db
    .selectFrom('dead_letters')
    .select(['dossier_code', 'reason', 'message'])
    .where('connector_id', '=', 'poison-page')
    .orderBy('dossier_code')
    .execute();
  const codeAt = (i: number) => `01.2026.${String(i).padStart(6, '0')}`;
  expect(letters.map(({ dossier_code, reason }) => ({ dossier_code, reason }))).toEqual(
    [
      { dossier_code: `${codeAt(poisonAt[0]!)}\\u0000`, reason: 'unknown_status' },
      { dossier_code: codeAt(poisonAt[1]!), reason: 'bad_value' },
      { dossier_code: codeAt(poisonAt[2]!), reason: 'bad_value' },
    ].sort((a, b) => (a.dossier_code < b.dossier_code ? -1 : 1)),
  );
  expect(letters.find((letter) => letter.dossier_code === codeAt(poisonAt[1]!))!.message).toMatch(
    /^procedureCode: .*unpaired surrogate/,
  );
  expect(letters.find((letter) => letter.dossier_code === codeAt(poisonAt[2]!))!.message).toMatch(
    /^altDossierCode: .*U\+0000/,
  );
  const stored = await env.db
    .selectFrom('dossiers')
    .select('dossier_code')
    .where('connector_id', '=', 'poison-page')
    .execute();
  expect(new Set(stored.map((row) => row.dossier_code))).toEqual(
    new Set(
      Array.from({ length: 1000 }, (_, i) => i)
        .filter((i) => !poisonAt.includes(i))
        .map(codeAt),
    ),
  );
  expect(await readCursor(env.db, 'poison-page')).toMatchObject({
    updatedSince: bigPage.items[999]!.NgayCapNhat,
    afterCode: bigPage.items[999]!.MaHoSo,
  });
  expect(await failedRuns('poison-page')).toBe(0);
  expect(await failedSet.getFailedCount()).toBe(0);
});
