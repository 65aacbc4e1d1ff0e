import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { parseDefinitionText } from '../../workers/control-plane/definition.js';
import { saveConnector } from '../../db/queries/connectors.js';
import { ProvinceSimulator } from '../../scripts/tools/simulator/province-simulator.js';
import { startFleet, roles, type Fleet } from '../../workers/fleet.js';
import { createLogger } from '../../workers/logger.js';
import { compareWithTruth, duplicateHistoryRows } from '../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../support/test-environment.js';

// One province per dialect, each read through its example definition from connectors/examples/.
const examples = { '79': 'hcm-igate.yaml', '92': 'cantho-dvc.yaml', '01': 'hanoi-lgsp.yaml' } as const;
const provinces = Object.keys(examples);
let env: TestEnvironment;
let simulator: ProvinceSimulator;
let fleet: Fleet;

beforeAll(async () => {
  env = await createTestEnvironment();
  simulator = new ProvinceSimulator({
    provinces,
    dossiersPerProvince: 4000,
    seed: 13,
    paused: true,
    malformedRate: 0.01,
    credentials: {
      clientId: 'sync-client',
      clientSecret: 'igate-secret',
      apiKey: 'dvc-key',
      username: 'lgsp-user',
      password: 'lgsp-password',
    },
    tokenTtlSeconds: 2,
  });
  const url = await simulator.start();
  Object.assign(process.env, {
    HCM_IGATE_CLIENT_SECRET: 'igate-secret',
    CANTHO_DVC_API_KEY: 'dvc-key',
    HANOI_LGSP_PASSWORD: 'lgsp-password',
  });
  for (const file of Object.values(examples)) {
    const definition = parseDefinitionText(
      readFileSync(new URL(`../../connectors/examples/${file}`, import.meta.url), 'utf8'),
      file,
    );
    const config = definition.config as { http?: { baseUrl: string }; baseUrl?: string };
    if (config.http) config.http.baseUrl = url;
    else config.baseUrl = url;
    await saveConnector(env.db, { ...definition, pollIntervalMs: 300 });
  }
  fleet = await startFleet(env.config, roles, createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  await simulator?.stop();
  await env?.cleanup();
});

it('syncs every example dialect equal to the simulator, with its malformed records as dead letters', async () => {
  const settled = async () => {
    const comparison = await compareWithTruth(env.db, simulator, ['79']);
    return comparison.missing === 0 && comparison.different === 0;
  };
  await waitFor(settled, 'the backfill of every dialect');
  // Statuses move; an OAuth2 token (2 s) expires on the way.
  for (let round = 0; round < 3; round++) {
    simulator.advance(400);
    await new Promise((resolve) => setTimeout(resolve, 1200));
  }
  await waitFor(settled, 'every dialect caught up with the moves');
  expect(await compareWithTruth(env.db, simulator, ['79'])).toMatchObject({
    expected: 12_000 - [...simulator.truth()].filter((row) => row.malformed).length,
    missing: 0,
    different: 0,
    extra: 0,
  });
  expect(await duplicateHistoryRows(env.db)).toBe(0);

  const malformed = [...simulator.truth()].filter((row) => row.malformed);
  await waitFor(
    async () =>
      Number(
        (await sql<{ n: string }>`SELECT count(DISTINCT dossier_code) AS n FROM dead_letters`.execute(env.db)).rows[0]!
          .n,
      ) === malformed.length,
    'every malformed record kept',
  );
  const letters = await env.db
    .selectFrom('dead_letters')
    .select(['dossier_code', 'reason', 'connector_id', 'raw_payload'])
    .execute();
  for (const truth of malformed) {
    const letter = letters.find((candidate) => candidate.dossier_code === truth.dossierCode);
    expect(letter, truth.dossierCode).toMatchObject({ reason: truth.malformed });
  }
  // No applicant's name reached a dead letter in any dialect.
  expect(letters.some((letter) => /"(fullName|ho_ten|HoTen)":"[^[]/.test(letter.raw_payload))).toBe(false);
});

it('stores a merged province\u2019s dossiers under the current province, keeping the code they were filed under', async () => {
  const { rows } = await sql<{ source_province_code: string; source_code_set: string; n: string }>`
    SELECT source_province_code, source_code_set, count(*) AS n FROM dossiers WHERE province_code = '92'
    GROUP BY 1, 2 ORDER BY 1, 2`.execute(env.db);
  expect(rows.map((row) => `${row.source_province_code}/${row.source_code_set}`)).toEqual(
    expect.arrayContaining(['92/2025']),
  );
  expect(rows.some((row) => row.source_code_set === '2008')).toBe(true);
  for (const row of rows.filter((candidate) => candidate.source_code_set === '2008'))
    expect(['92', '93', '94']).toContain(row.source_province_code);
});
