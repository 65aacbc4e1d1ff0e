import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { insertBackfillRun, setBackfillStatus } from '../../../db/queries/backfill-runs.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { parseDefinitionText } from '../../../workers/control-plane/definition.js';
import { registerSimulatorConnector } from '../../support/connectors.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { startGatewayServer, type GatewayServer } from './gateway-server.js';

// `POST /v1/admin/connectors/{id}/backfill` refuses what cannot be backfilled before anything is stored: a connector
// whose source cannot be read by time window (422 backfill_not_supported, saying why), a removed one (409), one with
// another unfinished run (409, naming it); a failed run of the same range is resumed (202, `resumed`, audited as
// backfill.resume), as the same `fleet backfill` command would.

let env: TestEnvironment;
let gateway: GatewayServer;
let key: { id: string; key: string };
const example = (name: string) =>
  parseDefinitionText(
    readFileSync(fileURLToPath(new URL(`../../../connectors/examples/${name}`, import.meta.url)), 'utf8'),
  );
const range = { from: '2026-11-01', to: '2026-11-08' };

async function start(id: string, body: unknown = range) {
  const response = await fetch(`${gateway.url}/v1/admin/connectors/${id}/backfill`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const stored = async () => ({
  runs: await env.db.selectFrom('backfill_runs').selectAll().orderBy('id').execute(),
  audit: await env.db.selectFrom('audit_events').selectAll().where('action', 'like', 'backfill.%').execute(),
});

beforeAll(async () => {
  env = await createTestEnvironment();
  gateway = await startGatewayServer(env);
  key = await createApiKey(env.db, 'operators', 'admin', { actor: cliActor() });
  // Never read: a start records the run; the reconciler role (not running here) would read it.
  await registerSimulatorConnector(env.db, 'http://127.0.0.1:9', '79');
  await registerSimulatorConnector(env.db, 'http://127.0.0.1:9', '01', { id: 'gone-01' });
  await env.db.updateTable('connectors').set({ state: 'removed' }).where('id', '=', 'gone-01').execute();
  await saveConnector(env.db, example('danang-push.yaml'));
  await saveConnector(env.db, example('hcm-igate.yaml'));
});
afterAll(async () => {
  await gateway?.close();
  await env?.cleanup();
});

it('refuses a connector that cannot be read by time window, or removed, storing nothing', async () => {
  expect(await start('danang-push')).toMatchObject({
    status: 422,
    body: {
      code: 'backfill_not_supported',
      detail: expect.stringMatching(/^connector danang-push only pushes .*so it has no history to read/),
    },
  });
  expect(await start('hcm-igate')).toMatchObject({
    status: 422,
    body: {
      code: 'backfill_not_supported',
      detail: expect.stringMatching(
        /^connector hcm-igate \(kind declarative\) cannot read its source by time window: its definition has no \{\{windowStart\}\}/,
      ),
    },
  });
  expect(await start('gone-01')).toMatchObject({
    status: 409,
    body: { code: 'conflict', detail: expect.stringMatching(/^connector gone-01 is removed; register it again/) },
  });
  expect(await stored()).toEqual({ runs: [], audit: [] });
});

it('refuses another range while a run is unfinished, and resumes a failed run of the same range', async () => {
  const run = await insertBackfillRun(env.db, {
    connectorId: 'sim-79',
    provinceCode: '79',
    from: new Date('2026-11-01T00:00:00Z'),
    to: new Date('2026-11-08T00:00:00Z'),
    windowHours: 24,
    windowsTotal: 7,
    startedBy: 'cli:someone',
  });
  // Running (no process holds it here): the same range too is refused; the reconciler role carries it on.
  for (const body of [range, { ...range, to: '2026-11-09' }])
    expect(await start('sim-79', body)).toMatchObject({
      status: 409,
      body: {
        code: 'conflict',
        detail: expect.stringMatching(
          new RegExp(
            `^connector sim-79 has an unfinished backfill run ${run!.id} of connector sim-79 \\(2026-11-01T00:00:00.000Z to 2026-11-08T00:00:00.000Z, 24 h windows, 0/7 done, running, started by cli:someone at .*\\); one backfill runs per connector at a time: wait for it to finish, or cancel it \\(POST /v1/admin/backfills/${run!.id}/cancel\\)$`,
          ),
        ),
      },
    });
  await setBackfillStatus(env.db, run!.id, 'failed', 'the source failed');
  expect(await start('sim-79', { ...range, windowHours: 12 })).toMatchObject({
    status: 409,
    body: { detail: expect.stringMatching(/, or start it again with its range and window step to resume it$/) },
  });
  expect((await stored()).audit).toEqual([]);

  const resumed = await start('sim-79');
  expect(resumed).toMatchObject({
    status: 202,
    body: { resumed: true, run: { id: run!.id, status: 'running', error: null, startedBy: 'cli:someone' } },
  });
  expect(await stored()).toMatchObject({
    runs: [{ id: run!.id, status: 'running' }],
    audit: [{ action: 'backfill.resume', actor_kind: 'api_key', actor_id: key.id, details: { run: run!.id } }],
  });
});
