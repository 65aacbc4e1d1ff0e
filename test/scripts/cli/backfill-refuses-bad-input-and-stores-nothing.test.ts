import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { insertBackfillRun } from '../../../db/queries/backfill-runs.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { parseDefinitionText } from '../../../workers/control-plane/definition.js';
import { registerSimulatorConnector } from '../../support/connectors.js';
import { runFleet } from '../../support/fleet-process.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

let env: TestEnvironment;
const settings = () => ({ ...env.config, LOG_LEVEL: 'warn' }) as unknown as Record<string, string>;
const example = (name: string) =>
  parseDefinitionText(
    readFileSync(fileURLToPath(new URL(`../../../connectors/examples/${name}`, import.meta.url)), 'utf8'),
  );
const range = ['--from', '2026-11-01', '--to', '2026-11-08'];

beforeAll(async () => {
  env = await createTestEnvironment();
  // Never read: every refusal comes before a request to the source.
  await registerSimulatorConnector(env.db, 'http://127.0.0.1:9', '79');
  await saveConnector(env.db, example('danang-push.yaml'));
  await saveConnector(env.db, example('hcm-igate.yaml'));
});
afterAll(async () => {
  await env?.cleanup();
});

const stored = async () => ({
  runs: (await env.db.selectFrom('backfill_runs').select('id').execute()).length,
  audit: (await env.db.selectFrom('audit_events').select('id').execute()).length,
  dossiers: (await env.db.selectFrom('dossiers').select('dossier_code').execute()).length,
});

it.each([
  [
    'a range that ends before it starts',
    ['--connector', 'sim-79', '--from', '2026-11-08', '--to', '2026-11-01'],
    2,
    /^fleet backfill: --from 2026-11-08T00:00:00.000Z is not before --to 2026-11-01T00:00:00.000Z; expected a range \[from, to\)/m,
  ],
  ['an empty range', ['--connector', 'sim-79', '--from', '2026-11-01', '--to', '2026-11-01'], 2, /is not before --to/],
  [
    'a time that is not one',
    ['--connector', 'sim-79', '--from', 'last week', '--to', '2026-11-01'],
    2,
    /^fleet backfill: --from "last week" is not a time; expected ISO 8601 such as 2026-11-01/m,
  ],
  ['no --to', ['--connector', 'sim-79', '--from', '2026-11-01'], 2, /^fleet backfill: --to is required/m],
  ['no connector', range, 2, /^fleet backfill: --connector is required/m],
  ['an unknown connector', ['--connector', 'nope', ...range], 3, /^fleet backfill: no connector nope is registered$/m],
  [
    'a push-only connector',
    ['--connector', 'danang-push', ...range],
    2,
    /^fleet backfill: connector danang-push only pushes .*so it has no history to read/m,
  ],
  [
    'a source that cannot be read by time window',
    ['--connector', 'hcm-igate', ...range],
    2,
    /^fleet backfill: connector hcm-igate \(kind declarative\) cannot read its source by time window: its definition has no \{\{windowStart\}\} and \{\{windowEnd\}\}/m,
  ],
  [
    'a window step of none',
    ['--connector', 'sim-79', ...range, '--window-hours', '0'],
    2,
    /expected a whole number of at least 1/,
  ],
])('refuses %s with one clear line, and stores nothing', async (_what, args, code, message) => {
  const result = await runFleet(['backfill', ...args], settings());
  expect(result.output).toMatch(message);
  expect(result.code).toBe(code);
  expect(await stored()).toEqual({ runs: 0, audit: 0, dossiers: 0 });
});

it('refuses a range other than the connector unfinished run, naming it, and stores nothing more', async () => {
  const run = await insertBackfillRun(env.db, {
    connectorId: 'sim-79',
    provinceCode: '79',
    from: new Date('2026-10-01T00:00:00Z'),
    to: new Date('2026-10-11T00:00:00Z'),
    windowHours: 24,
    windowsTotal: 10,
    startedBy: 'cli:someone',
  });
  const result = await runFleet(['backfill', '--connector', 'sim-79', ...range], settings());
  expect(result.output).toMatch(
    new RegExp(
      `^fleet backfill: connector sim-79 has an unfinished backfill run ${run!.id} of connector sim-79 \\(2026-10-01T00:00:00.000Z to 2026-10-11T00:00:00.000Z, 24 h windows, 0/10 done, running, started by cli:someone at .*\\); run fleet backfill again with its range and window step to resume it, or fleet backfill --cancel --connector sim-79 to give it up$`,
      'm',
    ),
  );
  expect(result.code).toBe(2);
  expect(await stored()).toEqual({ runs: 1, audit: 0, dossiers: 0 });

  const cancelled = await runFleet(['backfill', '--cancel', '--connector', 'sim-79'], settings());
  expect(cancelled.output).toMatch(`cancelled backfill run ${run!.id} of connector sim-79`);
  expect(cancelled.code).toBe(0);
  expect(await env.db.selectFrom('backfill_runs').select('status').execute()).toEqual([{ status: 'cancelled' }]);
  expect(await env.db.selectFrom('audit_events').select(['action', 'connector_id']).execute()).toEqual([
    { action: 'backfill.cancel', connector_id: 'sim-79' },
  ]);
  const again = await runFleet(['backfill', '--cancel', '--connector', 'sim-79'], settings());
  expect(again.output).toMatch(/^fleet backfill: connector sim-79 has no unfinished backfill run$/m);
  expect(again.code).toBe(3);
});
