import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { parseDefinition } from '../../../workers/control-plane/definition.js';
import { findConnectorStatus, saveConnector } from '../../../db/queries/connectors.js';
import { startFleet, roles, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';
import { LongSourceServer, longSourceRecords } from './long-source-server.js';

// An incremental source that does not sort by update time (`sorted: false`) cannot move its update-time cursor
// before its walk has read the last page; a walk of 450 pages takes three runs, and each carries it on from the
// position the last committed page saved, so the walk ends, and the cursor then moves to the newest time seen.

const pageSize = 2;
const pages = 450;
let env: TestEnvironment;
let fleet: Fleet;
let server: LongSourceServer;
const records = longSourceRecords(pages * pageSize, '79.2026');
// A fixed shuffle: the source serves its records in no order of update time.
const shuffled = records
  .map((record, i) => ({ record, key: (i * 7919) % records.length }))
  .sort((a, b) => a.key - b.key)
  .map(({ record }) => record);

beforeAll(async () => {
  env = await createTestEnvironment();
  server = new LongSourceServer({ records: shuffled, pagination: 'pageNumber' });
  await saveConnector(
    env.db,
    parseDefinition({
      id: 'hcm-unsorted',
      province: { code: '79' },
      schedule: { pollIntervalSeconds: 3600 },
      http: { baseUrl: await server.start() },
      request: { path: '/dossiers', query: { since: '{{cursor}}', page: '{{page}}', size: '{{pageSize}}' } },
      pagination: { type: 'pageNumber', pageSize, firstPage: 1 },
      incremental: { cursorField: 'updatedAt', cursorFormat: 'yyyy-MM-ddTHH:mm:ss', sorted: false, lookbackSeconds: 0 },
      records: { path: 'data.items' },
      fields: { dossierCode: 'code', status: 'state' },
      statuses: { preset: 'english' },
      rateLimit: { requestsPerSecond: 1000 },
    }),
  );
  fleet = await startFleet(env.config, roles, createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  await server?.stop();
  await env?.cleanup();
});

it('syncs an unsorted source longer than one run whole, then moves the cursor to the newest update time', async () => {
  const stored = async () =>
    Number((await sql<{ n: string }>`SELECT count(*) AS n FROM dossiers`.execute(env.db)).rows[0]!.n);
  await waitFor(async () => (await stored()) === records.length, 'every dossier stored', 100_000);
  const status = () => findConnectorStatus(env.db, 'hcm-unsorted');
  // The walk's last page (the empty one after the 450th) commits the since-part: the newest record, 08:07:29
  // Vietnam time.
  await waitFor(
    async () =>
      (await status())?.cursor_position !== null &&
      !Object.hasOwn((await status())!.cursor_position as object, 'resume'),
    'the walk ended',
  );
  expect((await status())?.cursor_position).toMatchObject({ since: '2026-11-20T01:07:29.000Z', walk: 1 });
  expect((await status())?.last_error ?? null).toBeNull();
  expect(server.requestsAt(0)).toBe(1);
  expect(new Set(server.positions).size).toBe(server.positions.length);
}, 150_000);
