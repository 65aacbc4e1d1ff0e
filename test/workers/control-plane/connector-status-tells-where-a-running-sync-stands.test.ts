import { cliActor } from '../../../workers/control-plane/audit.js';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import type { ConnectorStatusView } from '../../../workers/control-plane/connector-status.js';
import { startFleet, roles, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { runFleet } from '../../support/fleet-process.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// A province of 10,000 dossiers read in 100 pages of 100 at 5 requests a second: a sync that lasts long enough
// to be watched. `fleet connector status` shows the run while it goes on, the position and the dossiers stored;
// the admin API answers the same view.

const dossiers = 10_000;
let env: TestEnvironment;
let simulator: ProvinceSimulator;
let fleet: Fleet;
let key: string;
let cli: Record<string, string>;

const stored = async () =>
  Number(
    (await sql<{ n: string }>`SELECT count(*) AS n FROM dossiers WHERE connector_id = 'sim-79'`.execute(env.db))
      .rows[0]!.n,
  );

async function statusJson(): Promise<ConnectorStatusView> {
  const { code, output } = await runFleet(['connector', 'status', 'sim-79', '-o', 'json'], cli);
  expect(code, output).toBe(0);
  return JSON.parse(output) as ConnectorStatusView;
}

beforeAll(async () => {
  env = await createTestEnvironment();
  cli = { DATABASE_URL: env.config.DATABASE_URL, LOG_LEVEL: 'silent' };
  // Paused: its dossiers do not move, so the truth is what it serves from the start.
  simulator = new ProvinceSimulator({ provinces: ['79'], dossiersPerProvince: dossiers, seed: 5, paused: true });
  const url = await simulator.start();
  await saveConnector(env.db, {
    id: 'sim-79',
    sourceProvinceCode: '79',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: url, pageSize: 100, lookbackSeconds: 3, rateLimit: { requestsPerSecond: 5 } },
    pollIntervalMs: 1000,
  });
  ({ key } = await createApiKey(env.db, 'ops', 'admin', { actor: cliActor() }));
  fleet = await startFleet(env.config, roles, createLogger('silent'));
});
afterAll(async () => {
  await fleet?.stop();
  await simulator?.stop();
  await env?.cleanup();
});

it('shows, while the sync runs, the pages and records of the current run, its rate, the position and the dossiers stored', async () => {
  let running: { view: ConnectorStatusView; before: number; after: number } | undefined;
  await waitFor(
    async () => {
      const before = await stored();
      const view = await statusJson();
      const after = await stored();
      if (
        view.run?.outcome === 'running' &&
        view.run.pages > 0 &&
        view.position?.walk?.number === 1 &&
        !view.position.walk.complete
      )
        running = { view, before, after };
      return running !== undefined;
    },
    'a status taken while the first walk of the source runs',
    120_000,
    100,
  );
  const { view, before, after } = running!;
  expect(view).toMatchObject({
    id: 'sim-79',
    provinceCode: '79',
    codeSet: '2025',
    kind: 'national-rest',
    state: 'active',
    polled: true,
    lastError: null,
  });
  expect(view.run!.records).toBeGreaterThan(0);
  expect(view.run!.records).toBeLessThanOrEqual(view.run!.pages * 100);
  expect(view.run!.recordsPerSecond).toBeGreaterThan(0);
  expect(view.run!.lastPageAt).not.toBeNull();
  expect(view.run!.endedAt).toBeNull();
  // The position is readable: the keyset's update time and last dossier code, and how far the walk got.
  expect(view.position!.source).toEqual({
    updatedSince: expect.stringMatching(/^\d{14}$/),
    afterCode: expect.stringMatching(/^79\.2026\.\d{6}$/),
  });
  expect(view.position!.walk!.pages).toBeGreaterThan(0);
  expect(view.position!.movedAt).not.toBeNull();
  // The dossiers stored at that moment: counted in the table between just before and just after the command.
  expect(view.storedDossiers).toBeGreaterThanOrEqual(before);
  expect(view.storedDossiers).toBeLessThanOrEqual(after);
  expect(view.storedDossiers).toBeLessThan(dossiers);
}, 180_000);

it('counts, once synced, every dossier of the source as stored; the text and the admin API tell the same', async () => {
  const truth = [...simulator.truth()].filter((dossier) => !dossier.malformed).length;
  expect(truth).toBe(dossiers);
  await waitFor(async () => (await stored()) === truth, 'every dossier stored', 180_000);
  // Paused, the connector stops moving: the view taken twice in a row, a second apart, is the same.
  expect(await runFleet(['connector', 'pause', 'sim-79'], cli)).toMatchObject({ code: 0 });
  let settled: ConnectorStatusView | undefined;
  await waitFor(
    async () => {
      const first = await statusJson();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const second = await statusJson();
      if (first.run?.outcome !== 'running' && JSON.stringify(first) === JSON.stringify(second)) settled = second;
      return settled !== undefined;
    },
    'the paused connector at rest',
    60_000,
  );
  const view = settled!;
  expect(view).toMatchObject({
    state: 'paused',
    storedDossiers: truth,
    lastError: null,
    pushes: { updates: 0, lastReceivedAt: null, lastCommittedAt: null },
  });
  expect(view.lastSuccessAt).not.toBeNull();
  expect(view.run).toMatchObject({ outcome: 'caught_up', endedAt: expect.any(String) });
  expect(view.position!.walk!.complete).toBe(true);

  const response = await fetch(`${fleet.url}/v1/admin/connectors/sim-79/status`, {
    headers: { authorization: `Bearer ${key}` },
  });
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual(view);

  const text = await runFleet(['connector', 'status', 'sim-79'], cli);
  expect(text.code).toBe(0);
  const lines = text.output.trimEnd().split('\n');
  expect(lines[0]).toBe('connector sim-79 (national-rest, province 79, code set 2025): paused');
  expect(lines).toContain(`stored: ${truth} dossiers`);
  expect(text.output).toMatch(
    /^last run: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z to \d{4}-\d{2}-\d{2} [\d:]+Z, caught up: \d+ pages?, \d+ records?, 0 dead letters, [\d.]+ records\/s$/m,
  );
  // The keyset's parts in the order Postgres keeps them (jsonb), then the walk.
  const position = lines.find((line) => line.startsWith('position: '));
  expect(position).toMatch(
    /^position: (?=.*\bupdatedSince \d{14}\b)(?=.*\bafterCode 79\.2026\.\d{6}\b)[^;]+; walk \d+ \(began [\d-]+ [\d:]+Z\): \d+ pages? read, complete; moved [\d-]+ [\d:]+Z$/,
  );
  expect(lines).toContain('last error: -');
  expect(lines).toContain('pushes: none committed');

  // show counts what is stored too, not what the cursor moved over.
  const shown = await runFleet(['connector', 'show', 'sim-79'], cli);
  expect(shown.output).toMatch(new RegExp(`^# stored: ${truth} dossiers `, 'm'));
}, 300_000);
