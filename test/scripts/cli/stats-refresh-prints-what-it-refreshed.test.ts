import { afterAll, beforeAll, expect, it } from 'vitest';
import { upsertDossiers } from '../../../db/queries/upsert-dossiers.js';
import type { StatsRefreshView } from '../../../scripts/cli/commands/stats.js';
import { dossierRecord } from '../../support/records.js';
import { runFleet } from '../../support/fleet-process.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// `fleet stats refresh` does one pass of the scheduler's stats refresher now, and says what it refreshed and how long
// each province took: what the benchmark times, and what an operator runs after a bulk load.

let env: TestEnvironment;
let cli: Record<string, string>;

beforeAll(async () => {
  env = await createTestEnvironment();
  cli = { DATABASE_URL: env.config.DATABASE_URL, LOG_LEVEL: 'silent' };
  await upsertDossiers(env.db, [dossierRecord({ provinceCode: '01', dossierCode: 'HN-1' })]);
});
afterAll(async () => env?.cleanup());

it('refreshes every province the first time, then only those that changed', async () => {
  const first = await runFleet(['stats', 'refresh', '-o', 'json'], cli);
  expect(first.code).toBe(0);
  const view = JSON.parse(first.output) as StatsRefreshView;
  expect(view.provinces).toHaveLength(34);
  expect(view.refreshed).toBe(34);
  expect(view.provinces.find((row) => row.provinceCode === '01')).toMatchObject({ outcome: 'refreshed', dossiers: 1 });

  await upsertDossiers(env.db, [dossierRecord({ provinceCode: '01', dossierCode: 'HN-2' })]);
  const again = await runFleet(['stats', 'refresh'], cli);
  expect(again.code).toBe(0);
  const lines = again.output.trimEnd().split('\n');
  expect(lines[0]!.split(/\s{2,}/)).toEqual(['PROVINCE', 'OUTCOME', 'DOSSIERS', 'ROWS', 'MS']);
  expect(lines.find((line) => line.startsWith('01 '))).toMatch(/^01 +refreshed +2 +\d+ +\d+$/);
  expect(lines.find((line) => line.startsWith('79 '))).toMatch(/^79 +unchanged +- +- +\d+$/);
  expect(lines.at(-1)).toMatch(/^refreshed 1 of 34 provinces in \d+ ms$/);
});

it('refreshes one province, even unchanged with --force, and refuses a code that is not a current province', async () => {
  const forced = await runFleet(['stats', 'refresh', '--province', '79', '--force'], cli);
  expect(forced.code).toBe(0);
  expect(forced.output).toMatch(/^79 +refreshed +0 +0 +\d+$/m);
  expect(forced.output).toMatch(/refreshed 1 of 1 provinces in \d+ ms/);

  const unknown = await runFleet(['stats', 'refresh', '--province', '27'], cli);
  expect(unknown.code).toBe(2);
  expect(unknown.output).toMatch(/--province "27" is not a current province code; expected one of the 34 codes/);
});
