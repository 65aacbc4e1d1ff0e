import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { runFleet } from '../../support/fleet-process.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// `fleet reconcile` refuses what it cannot run with one line and stores nothing: exit 3 for an unknown connector,
// 2 for bad input; `--report` with nothing to report says so.

let env: TestEnvironment;
const settings = () => ({ ...env.config, LOG_LEVEL: 'silent' }) as unknown as Record<string, string>;

beforeAll(async () => {
  env = await createTestEnvironment();
  await saveConnector(env.db, {
    id: 'danang',
    sourceProvinceCode: '48',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: 'http://127.0.0.1:9' },
    pollIntervalMs: 60_000,
  });
});
afterAll(async () => env?.cleanup());

it('answers an unknown connector with exit 3 and bad input with exit 2, storing nothing', async () => {
  const [unknown, noConnector, badTime, reversed] = await Promise.all([
    runFleet(['reconcile', '--connector', 'nowhere'], settings()),
    runFleet(['reconcile'], settings()),
    runFleet(['reconcile', '--connector', 'danang', '--from', 'yesterday'], settings()),
    runFleet(['reconcile', '--connector', 'danang', '--from', '2026-11-02', '--to', '2026-11-01'], settings()),
  ]);
  expect(unknown).toMatchObject({ code: 3 });
  expect(unknown.output.trim()).toBe('fleet reconcile: no connector nowhere is registered');
  expect(noConnector.code).toBe(2);
  expect(noConnector.output).toMatch(/--connector is required/);
  expect(badTime.code).toBe(2);
  expect(badTime.output.trim()).toMatch(/^fleet reconcile: --from "yesterday" is not a time; expected ISO 8601/);
  expect(reversed.code).toBe(2);
  expect(reversed.output.trim()).toMatch(/--from 2026-11-02T00:00:00.000Z is not before --to 2026-11-01T00:00:00.000Z/);
  expect(await env.db.selectFrom('reconcile_runs').select('id').execute()).toEqual([]);
  expect(await env.db.selectFrom('audit_events').select('id').execute()).toEqual([]);

  const report = await runFleet(['reconcile', '--report'], settings());
  expect(report.code).toBe(0);
  expect(report.output).toMatch(/no reconcile runs/);
  expect(report.output).toMatch(/no anomalies/);
});
