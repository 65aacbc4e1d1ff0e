import { afterAll, beforeAll, expect, it } from 'vitest';
import { saveConnector } from '../../../db/queries/connectors.js';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { parseMetrics } from '../../support/fleet-metrics.js';
import { spawnFleet, type FleetProcess } from '../../support/fleet-process.js';
import { sparePort } from '../../support/own-services.js';
import { compareWithTruth, duplicateHistoryRows } from '../../support/simulator-truth.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// A backfill started over HTTP (`POST /v1/admin/connectors/{id}/backfill`) is recorded, in the audit trail under the
// key, and carried out by a real fleet process of the reconciler role (with the gateway and the writer) to the end
// of its range: the dossiers stored are exactly the simulator's truth. A province key starts only its own
// province's backfills (another's connector answers as an unknown one, and nothing is recorded) and lists only its
// own runs. Backfills of two connectors run at once; a second one of the same connector is 409.

const baseTime = new Date('2026-11-20T00:00:00Z');
const range = { from: '2026-10-19', to: '2026-11-21T00:00:00+00:00' };
let env: TestEnvironment;
let simulator: ProvinceSimulator;
let fleet: FleetProcess | null = null;
let port: number;
let provinceKey: { id: string; key: string };
let nationalKey: { id: string; key: string };

const runs = () => env.db.selectFrom('backfill_runs').selectAll().orderBy('connector_id').execute();
const backfillEvents = () =>
  env.db.selectFrom('audit_events').selectAll().where('action', 'like', 'backfill.%').orderBy('id').execute();

async function call(method: string, path: string, key: { key: string }, body?: unknown) {
  const response = await fetch(`http://127.0.0.1:${port}/v1/admin${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key.key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // Without the date and where the key stands in its rate limit: what differs between two answers of one key.
  const headers = Object.fromEntries(
    [...response.headers].filter(([name]) => name !== 'date' && !/ratelimit-remaining/.test(name)),
  );
  return { status: response.status, headers, text: await response.text() };
}

beforeAll(async () => {
  env = await createTestEnvironment();
  simulator = new ProvinceSimulator({
    provinces: ['24', '79'],
    dossiersPerProvince: 8_000,
    seed: 13,
    baseTime,
    // Paused: the truth of the range does not move while it is backfilled.
    paused: true,
  });
  const url = await simulator.start();
  for (const [id, province] of [
    ['bn-24', '24'],
    ['hcm-79', '79'],
  ] as const) {
    // A low rate limit: each backfill takes a few seconds, paced by its own connector's limit.
    await saveConnector(env.db, {
      id,
      sourceProvinceCode: province,
      sourceCodeSet: '2025',
      kind: 'national-rest',
      config: { baseUrl: url, pageSize: 200, rateLimit: { requestsPerSecond: 10 } },
      pollIntervalMs: 60_000,
    });
  }
  // Paused connectors: no poll reads them; only the backfills do.
  await env.db.updateTable('connectors').set({ state: 'paused' }).execute();
  provinceKey = await createApiKey(env.db, 'Bắc Ninh IT team', 'admin', { actor: cliActor(), provinces: ['24'] });
  nationalKey = await createApiKey(env.db, 'operators', 'admin', { actor: cliActor() });
  port = await sparePort();
  fleet = spawnFleet(['start', '--role', 'gateway,writer,reconciler'], {
    ...(env.config as unknown as Record<string, string>),
    LOG_LEVEL: 'warn',
    HTTP_PORT: String(port),
  });
  await waitFor(
    async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
      } catch {
        return false;
      }
    },
    'the fleet answers',
    30_000,
    100,
  );
});
afterAll(async () => {
  fleet?.child.kill('SIGKILL');
  await simulator?.stop();
  await env?.cleanup();
});

it("refuses a province key another province's connector as an unknown one, recording nothing", async () => {
  const foreign = await call('POST', '/connectors/hcm-79/backfill', provinceKey, range);
  const unknown = await call('POST', '/connectors/xxx-no/backfill', provinceKey, range);
  expect(foreign.status).toBe(404);
  expect({ ...foreign, text: foreign.text.replaceAll('hcm-79', 'xxx-no') }).toEqual(unknown);
  expect(JSON.parse(foreign.text)).toMatchObject({ code: 'not_found' });
  expect(await runs()).toEqual([]);
  expect(await backfillEvents()).toEqual([]);
});

it('refuses a bad range with a 400 naming the field', async () => {
  const bad = async (body: unknown) =>
    JSON.parse((await call('POST', '/connectors/bn-24/backfill', provinceKey, body)).text);
  expect(await bad({ from: '19/10/2026', to: range.to })).toMatchObject({
    status: 400,
    code: 'invalid_request',
    errors: [expect.stringMatching(/^body\.from: expected an ISO 8601 time such as 2026-11-01/)],
  });
  expect(await bad({ from: range.to, to: range.from })).toMatchObject({
    status: 400,
    errors: ['body.to: expected a time after from: the range [from, to) of source update times is empty'],
  });
  expect(await bad({ ...range, windowHours: 0 })).toMatchObject({
    status: 400,
    errors: ['body.windowHours: expected a whole number of hours from 1 to 8784'],
  });
  expect(await bad({ to: range.to })).toMatchObject({ status: 400, errors: [expect.stringMatching(/^body\.from: /)] });
  expect(await runs()).toEqual([]);
});

it('runs backfills of two connectors at once to the truth, recorded under the keys that started them', async () => {
  const started = await call('POST', '/connectors/bn-24/backfill', provinceKey, range);
  expect(started.status, started.text).toBe(202);
  const { run } = JSON.parse(started.text) as { run: Record<string, unknown> };
  expect(run).toMatchObject({
    connectorId: 'bn-24',
    provinceCode: '24',
    from: '2026-10-19T00:00:00.000Z',
    to: '2026-11-21T00:00:00.000Z',
    windowHours: 24,
    windowsTotal: 33,
    status: 'running',
    startedBy: `key ${provinceKey.id} (Bắc Ninh IT team)`,
  });
  const other = await call('POST', '/connectors/hcm-79/backfill', nationalKey, range);
  expect(other.status, other.text).toBe(202);

  // Both in progress at one moment: neither waits for the other.
  await waitFor(async () => {
    const now = await runs();
    return now.length === 2 && now.every((row) => row.windows_done > 0 && row.status === 'running');
  }, 'both runs past their first window at the same time');
  const again = await call('POST', '/connectors/bn-24/backfill', provinceKey, { ...range, windowHours: 12 });
  expect(again.status).toBe(409);
  expect(JSON.parse(again.text)).toMatchObject({
    code: 'conflict',
    detail: expect.stringMatching(
      /^connector bn-24 has an unfinished backfill run \d+ of connector bn-24 \(2026-10-19/,
    ),
  });

  await waitFor(async () => (await runs()).every((row) => row.status === 'done'), 'both runs done', 60_000);
  expect(await runs()).toMatchObject([
    { connector_id: 'bn-24', status: 'done', windows_done: 33, records: '8000' },
    { connector_id: 'hcm-79', status: 'done', windows_done: 33, records: '8000' },
  ]);
  expect(await compareWithTruth(env.db, simulator)).toMatchObject({
    expected: 16_000,
    missing: 0,
    different: 0,
    extra: 0,
  });
  expect(await duplicateHistoryRows(env.db)).toBe(0);
  // Each page the runs read is one observation of the backfill stage: 33 windows each, and 8,000 dossiers in pages
  // of 200, per connector, so at least 40 pages each; none failed.
  const families = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
  const backfillPages = (outcome: string) =>
    families
      .get('dossier_sync_operation_duration_seconds')!
      .samples.find(
        (sample) =>
          sample.name.endsWith('_count') && sample.labels.stage === 'backfill' && sample.labels.outcome === outcome,
      )?.value;
  expect(backfillPages('ok')).toBeGreaterThanOrEqual(80);
  expect(backfillPages('error')).toBeUndefined();

  const events = await backfillEvents();
  expect(events).toMatchObject([
    {
      action: 'backfill.start',
      connector_id: 'bn-24',
      province_code: '24',
      actor_kind: 'api_key',
      actor_id: provinceKey.id,
      actor_name: 'Bắc Ninh IT team',
      details: { run: run.id, from: '2026-10-19T00:00:00.000Z', windowHours: 24, windows: 33 },
    },
    { action: 'backfill.start', connector_id: 'hcm-79', actor_kind: 'api_key', actor_id: nationalKey.id },
  ]);

  // The province key lists its own run only, and cannot cancel the other's; a finished run cannot be cancelled.
  const listed = JSON.parse((await call('GET', '/backfills', provinceKey)).text) as { runs: { connectorId: string }[] };
  expect(listed.runs.map(({ connectorId }) => connectorId)).toEqual(['bn-24']);
  const otherId = (JSON.parse(other.text) as { run: { id: string } }).run.id;
  const foreignCancel = await call('POST', `/backfills/${otherId}/cancel`, provinceKey);
  const unknownId = String(Number(otherId) + 10)
    .slice(-otherId.length)
    .replace(/^0/, '9');
  const unknownCancel = await call('POST', `/backfills/${unknownId}/cancel`, provinceKey);
  expect(foreignCancel.status).toBe(404);
  expect({
    ...foreignCancel,
    text: foreignCancel.text.replaceAll(`/${otherId}`, `/${unknownId}`).replace(` ${otherId} `, ` ${unknownId} `),
  }).toEqual(unknownCancel);
  expect(JSON.parse((await call('POST', `/backfills/${run.id as string}/cancel`, provinceKey)).text)).toMatchObject({
    status: 409,
    detail: `backfill run ${run.id as string} is done; only a running or failed run can be cancelled`,
  });
});

it('cancels a running run over HTTP: the reconciler stops it, what it stored stays, recorded under the key', async () => {
  const started = await call('POST', '/connectors/bn-24/backfill', provinceKey, {
    from: '2025-01-01',
    to: '2026-11-21',
    windowHours: 1,
  });
  expect(started.status, started.text).toBe(202);
  const { run } = JSON.parse(started.text) as { run: { id: string } };
  const current = () =>
    env.db.selectFrom('backfill_runs').selectAll().where('id', '=', run.id).executeTakeFirstOrThrow();
  await waitFor(async () => (await current()).windows_done > 0, 'the run past its first window');
  const cancelled = await call('POST', `/backfills/${run.id}/cancel`, provinceKey);
  expect(cancelled.status, cancelled.text).toBe(200);
  expect(JSON.parse(cancelled.text)).toMatchObject({ run: { id: run.id, status: 'cancelled' } });
  // The process carrying it lets go of it (its lock): a new run of the connector can start.
  await waitFor(async () => {
    const next = await call('POST', '/connectors/bn-24/backfill', provinceKey, {
      from: '2026-11-20',
      to: '2026-11-21',
    });
    return next.status === 202;
  }, 'a new run of the connector accepted after the cancel');
  const done = await current();
  expect(done.status).toBe('cancelled');
  expect(done.windows_done).toBeLessThan(done.windows_total);
  expect((await backfillEvents()).filter(({ action }) => action === 'backfill.cancel')).toMatchObject([
    { connector_id: 'bn-24', actor_kind: 'api_key', actor_id: provinceKey.id, details: { run: run.id } },
  ]);
});
