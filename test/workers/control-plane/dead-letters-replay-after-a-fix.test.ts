import { cliActor } from '../../../workers/control-plane/audit.js';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { parseDefinitionText } from '../../../workers/control-plane/definition.js';
import type { DeclarativeConfig } from '../../../connectors/declarative/declarative-config.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { countDeadLetters, discardDeadLetters } from '../../../db/queries/dead-letters.js';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { startFleet, roles, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { replayDeadLetters, type ReplayProgress } from '../../../workers/control-plane/dead-letter-replay.js';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { openIngestQueue, type IngestQueue } from '../../../workers/queue/ingest-queue.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

let env: TestEnvironment;
let simulator: ProvinceSimulator;
let fleet: Fleet;
let writer: Fleet;
let ingest: IngestQueue;
let config: DeclarativeConfig;
const definition = parseDefinitionText(
  readFileSync(new URL('../../../connectors/examples/hcm-igate.yaml', import.meta.url), 'utf8'),
  'hcm-igate.yaml',
);

beforeAll(async () => {
  env = await createTestEnvironment();
  simulator = new ProvinceSimulator({
    provinces: ['79'],
    dossiersPerProvince: 2000,
    malformedRate: 0.03,
    paused: true,
    seed: 4,
  });
  config = definition.config as DeclarativeConfig;
  config.http.baseUrl = await simulator.start();
  config.auth = { type: 'none' };
  await saveConnector(env.db, { ...definition, config, pollIntervalMs: 300 });
  fleet = await startFleet(env.config, roles, createLogger('silent'));
  const malformed = [...simulator.truth()].filter((row) => row.malformed).length;
  await waitFor(
    async () => (await countDeadLetters(env.db, {})).reduce((sum, { count }) => sum + count, 0) === malformed,
    'every malformed record kept',
  );
  await fleet.stop();
  // A replay hands its records to the writer through the ingest queue, as a production operator's does.
  writer = await startFleet(env.config, ['writer'], createLogger('silent'));
  ingest = await openIngestQueue(
    env.config.REDIS_URL,
    env.config.QUEUE_PREFIX,
    new BackgroundErrorReporter(createLogger('silent')),
  );
});
afterAll(async () => {
  await ingest?.close();
  await writer?.stop();
  await simulator?.stop();
  await env?.cleanup();
});

it('replays dead letters through the fixed mapping, in batches with progress, keeping them marked', async () => {
  const unknown = [...simulator.truth()].filter((row) => row.malformed === 'unknown_status');
  const badDates = [...simulator.truth()].filter((row) => row.malformed === 'bad_date');
  expect(await countDeadLetters(env.db, {})).toEqual([
    { reason: 'bad_date', count: badDates.length },
    { reason: 'unknown_status', count: unknown.length },
  ]);

  // The provincial team learns its system also says "archived" for returned results, and fixes the definition.
  await saveConnector(env.db, {
    ...definition,
    config: { ...config, statuses: { ...config.statuses, map: { archived: 10 } } },
    pollIntervalMs: 300,
  });
  const seen: ReplayProgress[] = [];
  const result = await replayDeadLetters(
    env.db,
    ingest,
    { connectorId: 'hcm-igate' },
    { actor: cliActor(), batchSize: 10, onProgress: (progress) => seen.push(progress) },
  );

  expect(result).toEqual({
    processed: unknown.length + badDates.length,
    replayed: unknown.length,
    stillFailing: badDates.length,
  });
  expect(seen.length).toBeGreaterThan(1);
  const stored = await env.db
    .selectFrom('dossiers')
    .select(['dossier_code', 'status'])
    .where(
      'dossier_code',
      'in',
      unknown.map((row) => row.dossierCode),
    )
    .execute();
  expect(stored).toHaveLength(unknown.length);
  expect(stored.every((row) => row.status === 10)).toBe(true);
  // Kept, marked: nothing deleted.
  expect(await countDeadLetters(env.db, { state: 'replayed' })).toEqual([
    { reason: 'unknown_status', count: unknown.length },
  ]);
  expect(await countDeadLetters(env.db, { state: 'new' })).toEqual([{ reason: 'bad_date', count: badDates.length }]);

  // A second replay finds only the letters that still fail, and changes nothing.
  expect(await replayDeadLetters(env.db, ingest, { connectorId: 'hcm-igate' }, { actor: cliActor() })).toEqual({
    processed: badDates.length,
    replayed: 0,
    stillFailing: badDates.length,
  });
});

it('discards by filter, keeping the letters marked', async () => {
  expect(await discardDeadLetters(env.db, { reason: 'bad_date' })).toBeGreaterThan(0);
  const { rows } = await sql<{
    state: string;
    n: string;
  }>`SELECT state, count(*) AS n FROM dead_letters GROUP BY state ORDER BY state`.execute(env.db);
  expect(rows.map((row) => row.state)).toEqual(['discarded', 'replayed']);
});
