import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { countDeadLetters } from '../../../db/queries/dead-letters.js';
import { insertDeadLetters } from '../../../db/queries/insert-dead-letters.js';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { runFleet } from '../../support/fleet-process.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

let env: TestEnvironment;
let cli: Record<string, string>;
let writer: Fleet;
const letter = (dossierCode: string, reason: 'unknown_status' | 'bad_date', raw: unknown) => ({
  connectorId: 'danang',
  provinceCode: '48',
  dossierCode,
  reason,
  message: `${reason} of ${dossierCode}`,
  rawPayload: raw,
  receivedAt: '2026-11-20T01:00:00.000Z',
});

beforeAll(async () => {
  env = await createTestEnvironment();
  cli = {
    DATABASE_URL: env.config.DATABASE_URL,
    REDIS_URL: env.config.REDIS_URL,
    QUEUE_PREFIX: env.config.QUEUE_PREFIX,
  };
  // A replay's records are committed by the writer: one runs, as in production.
  writer = await startFleet(env.config, ['writer'], createLogger('silent'));
  await saveConnector(env.db, {
    id: 'danang',
    sourceProvinceCode: '48',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: 'http://127.0.0.1:9' },
    pollIntervalMs: 60_000,
  });
  const good = {
    MaHoSo: '48.2026.000001',
    TrangThaiHoSo: '4',
    NgayCapNhat: '20261120080000',
    PhienBan: 3,
    ChuHoSo: '[redacted]',
  };
  await insertDeadLetters(env.db, [
    // Stored under an old mapping that refused it; today's mapping accepts it.
    letter('48.2026.000001', 'unknown_status', good),
    letter('48.2026.000002', 'unknown_status', { ...good, MaHoSo: '48.2026.000002', TrangThaiHoSo: '99' }),
    letter('48.2026.000003', 'bad_date', { ...good, MaHoSo: '48.2026.000003', NgayHenTra: '20260231250000' }),
  ]);
});
afterAll(async () => {
  await writer?.stop();
  await env?.cleanup();
});

it('lists by reason with filters', async () => {
  const { code, output } = await runFleet(['dlq', 'list', '--reason', 'unknown_status'], cli);
  expect(code).toBe(0);
  expect(output).toMatch(/^unknown_status: 2$/m);
  expect(output).toContain('48.2026.000002');
  expect(output).not.toContain('48.2026.000003');
});

it('replays through the current mapping and keeps what still fails', async () => {
  const { code, output } = await runFleet(['dlq', 'replay', '--connector', 'danang'], cli);
  expect(code).toBe(0);
  expect(output).toMatch(/replayed 3 dead letters: 1 stored and marked replayed, 2 still failing/);
  expect(
    await env.db
      .selectFrom('dossiers')
      .select('status')
      .where('dossier_code', '=', '48.2026.000001')
      .executeTakeFirst(),
  ).toEqual({ status: 4 });
  expect(await countDeadLetters(env.db, { state: 'new' })).toEqual([
    { reason: 'bad_date', count: 1 },
    { reason: 'unknown_status', count: 1 },
  ]);
});

it('discards only with a filter, and refuses bad options with exit 2', async () => {
  expect(await runFleet(['dlq', 'discard'], cli)).toMatchObject({
    code: 2,
    output: expect.stringMatching(/expected a filter/),
  });
  expect(await runFleet(['dlq', 'list', '--since', 'yesterday'], cli)).toMatchObject({
    code: 2,
    output: expect.stringMatching(/--since "yesterday" is not a time; expected ISO 8601/),
  });
  expect(await runFleet(['dlq', 'show', 'abc'], cli)).toMatchObject({ code: 2 });
  const discarded = await runFleet(['dlq', 'discard', '--reason', 'bad_date'], cli);
  expect(discarded).toMatchObject({ code: 0, output: expect.stringMatching(/discarded 1 dead letters/) });
  expect(await countDeadLetters(env.db, { state: 'discarded' })).toEqual([{ reason: 'bad_date', count: 1 }]);
});
