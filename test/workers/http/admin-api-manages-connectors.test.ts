import { cliActor } from '../../../workers/control-plane/audit.js';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';

// The registry over HTTP: /v1/admin/connectors with an admin key. JSON or YAML definitions; an invalid one is a
// 422 problem naming every path, and nothing is stored.

let env: TestEnvironment;
let gateway: Fleet;
let simulator: ProvinceSimulator;
let simulatorUrl: string;
let key: string;

const definition = (id: string, pageSize = 100) => ({
  id,
  description: 'Hà Nội (simulator)',
  province: { code: '01' },
  plugin: { name: 'national-rest', config: { baseUrl: simulatorUrl, pageSize } },
});

async function call(method: string, path: string, body?: unknown, contentType = 'application/json') {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = contentType;
  const response = await fetch(`${gateway.url}/v1/admin${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    location: response.headers.get('location'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

const count = async () =>
  Number((await sql<{ n: string }>`SELECT count(*) AS n FROM connectors`.execute(env.db)).rows[0]!.n);

beforeAll(async () => {
  env = await createTestEnvironment();
  simulator = new ProvinceSimulator({
    provinces: ['01'],
    dossiersPerProvince: 300,
    malformedRate: 0.1,
    paused: true,
    seed: 2,
  });
  simulatorUrl = await simulator.start();
  gateway = await startFleet(env.config, ['gateway'], createLogger('silent'));
  ({ key } = await createApiKey(env.db, 'ops', 'admin', { actor: cliActor() }));
});
afterAll(async () => {
  await gateway?.stop();
  await simulator?.stop();
  await env?.cleanup();
});

it('adds a connector from JSON: 201 with its location, definition, settings and state', async () => {
  const created = await call('POST', '/connectors', definition('sim-01'));
  expect(created.status).toBe(201);
  expect(created.location).toBe('/v1/admin/connectors/sim-01');
  expect(created.body).toMatchObject({
    id: 'sim-01',
    description: 'Hà Nội (simulator)',
    provinceCode: '01',
    codeSet: '2025',
    kind: 'national-rest',
    state: 'active',
    pollIntervalMs: 60_000,
    lastSuccessAt: null,
    lastError: null,
    cursor: null,
    definition: definition('sim-01'),
    config: { baseUrl: simulatorUrl, pageSize: 100, lookbackSeconds: 120, timeoutMs: 10_000 },
  });
  expect(
    await env.db.selectFrom('connectors').select(['state', 'definition']).where('id', '=', 'sim-01').executeTakeFirst(),
  ).toEqual({ state: 'active', definition: definition('sim-01') });
});

it('adds a connector from YAML', async () => {
  const yaml = `id: sim-yaml\nprovince:\n  code: "01"\nschedule:\n  pollIntervalSeconds: 15\nplugin:\n  name: national-rest\n  config:\n    baseUrl: ${simulatorUrl}\n`;
  const created = await call('POST', '/connectors', yaml, 'application/yaml');
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({
    id: 'sim-yaml',
    pollIntervalMs: 15_000,
    definition: { id: 'sim-yaml', schedule: { pollIntervalSeconds: 15 } },
  });
});

it('refuses an invalid definition with 422 invalid_definition naming every path, and stores nothing', async () => {
  const before = await count();
  const invalid = {
    id: 'Bad Id',
    province: { code: 79 },
    plugin: { name: 'national-rest', config: { baseUrl: simulatorUrl } },
  };
  const refused = await call('POST', '/connectors', invalid);
  expect(refused.status).toBe(422);
  expect(refused.type).toMatch(/^application\/problem\+json/);
  expect(refused.body).toMatchObject({
    type: 'urn:dossier-sync:problem:invalid_definition',
    title: 'Unprocessable Entity',
    status: 422,
    code: 'invalid_definition',
    instance: '/v1/admin/connectors',
  });
  expect(refused.body.errors).toEqual([
    'id: expected an id of lowercase letters, digits and dashes (at most 63), such as hcm-igate, got "Bad Id"',
    'province.code: expected a two-digit province code as text, such as "79", got 79',
  ]);
  expect(refused.body.detail).toMatch(/^the connector definition is not valid: id: expected/);

  const declarative = `id: hcm-igate\nprovince: {code: "79"}\nhttp: {baseUrl: "https://motcua.example.gov.vn"}\nrequest: {path: /api}\npagination: {type: pageNumber, pageSize: "50"}\nrecords: {path: data}\nfields: {dossierCode: code, status: status}\nstatuses: {preset: english}\n`;
  const yamlRefused = await call('POST', '/connectors', declarative, 'application/yaml');
  expect(yamlRefused.status).toBe(422);
  expect(yamlRefused.body.errors).toContain('pagination.pageSize: expected a positive integer, got "50"');

  const notYaml = await call('POST', '/connectors', 'id: x\nprovince: {code: "01"\n', 'application/yaml');
  expect(notYaml).toMatchObject({
    status: 422,
    body: { code: 'invalid_definition', errors: [expect.stringMatching(/^body: not valid YAML or JSON: /)] },
  });
  expect(await count()).toBe(before);
});

it('refuses an id that exists with 409 conflict, and a body it cannot read with a problem', async () => {
  const conflict = await call('POST', '/connectors', definition('sim-01', 500));
  expect(conflict).toMatchObject({
    status: 409,
    body: { code: 'conflict', detail: 'connector sim-01 already exists; use update to change its definition' },
  });
  const badJson = await call('POST', '/connectors', '{"id": ', 'application/json');
  expect(badJson).toMatchObject({ status: 400, body: { code: 'bad_request' } });
  const csv = await call('POST', '/connectors', 'id,province', 'text/csv');
  expect(csv).toMatchObject({ status: 415, body: { code: 'unsupported_media_type' } });
});

it('lists connectors and shows one; an unknown id is 404 not_found', async () => {
  await env.db
    .insertInto('sync_cursors')
    .values({
      connector_id: 'sim-01',
      position: JSON.stringify({ updatedSince: '20260101080000', afterCode: '01.2026.000042' }),
      records_committed: 42,
    })
    .execute();
  const listed = await call('GET', '/connectors');
  expect(listed.status).toBe(200);
  const connectors = listed.body.connectors as Record<string, unknown>[];
  expect(connectors.map((connector) => connector.id)).toEqual(['sim-01', 'sim-yaml']);
  expect(connectors[0]).toMatchObject({
    state: 'active',
    cursor: { position: { updatedSince: '20260101080000', afterCode: '01.2026.000042' }, recordsCommitted: 42 },
  });
  expect(connectors[0]).not.toHaveProperty('definition');

  const shown = await call('GET', '/connectors/sim-01');
  expect(shown).toMatchObject({
    status: 200,
    body: { id: 'sim-01', definition: definition('sim-01'), cursor: { recordsCommitted: 42 } },
  });
  expect(await call('GET', '/connectors/nope')).toMatchObject({
    status: 404,
    body: { code: 'not_found', detail: 'connector nope is not registered' },
  });
});

it('updates a definition with PUT; the id in the body must be the one in the URL', async () => {
  const updated = await call('PUT', '/connectors/sim-01', definition('sim-01', 250));
  expect(updated).toMatchObject({
    status: 200,
    body: { id: 'sim-01', state: 'active', config: { pageSize: 250 }, definition: definition('sim-01', 250) },
  });
  const mismatch = await call('PUT', '/connectors/sim-01', definition('sim-02'));
  expect(mismatch).toMatchObject({
    status: 422,
    body: { code: 'invalid_definition', errors: ['id: expected "sim-01" (the connector in the URL), got "sim-02"'] },
  });
  expect(await call('PUT', '/connectors/sim-02', definition('sim-02'))).toMatchObject({
    status: 404,
    body: { code: 'not_found' },
  });
});

it('pauses, resumes and removes; a removed connector is listed only when asked for, and cannot be resumed', async () => {
  expect(await call('POST', '/connectors/sim-yaml/pause')).toMatchObject({
    status: 200,
    body: { id: 'sim-yaml', state: 'paused' },
  });
  expect(await call('POST', '/connectors/sim-yaml/pause')).toMatchObject({ status: 200, body: { state: 'paused' } });
  expect(await call('POST', '/connectors/sim-yaml/resume')).toMatchObject({ status: 200, body: { state: 'active' } });
  expect(await call('DELETE', '/connectors/sim-yaml')).toMatchObject({ status: 200, body: { state: 'removed' } });
  expect(
    ((await call('GET', '/connectors')).body.connectors as { id: string }[]).map((connector) => connector.id),
  ).toEqual(['sim-01']);
  expect(
    ((await call('GET', '/connectors?all=true')).body.connectors as { id: string }[]).map((connector) => connector.id),
  ).toEqual(['sim-01', 'sim-yaml']);
  expect(await call('POST', '/connectors/sim-yaml/resume')).toMatchObject({
    status: 409,
    body: { code: 'conflict', detail: 'connector sim-yaml is removed; use add to register it again' },
  });
  expect(await call('POST', '/connectors/nope/pause')).toMatchObject({ status: 404, body: { code: 'not_found' } });
  expect(await call('POST', '/connectors/Not_An_Id/pause')).toMatchObject({
    status: 400,
    body: { code: 'invalid_request' },
  });
  expect(await env.db.selectFrom('connectors').select(['id', 'state']).orderBy('id').execute()).toEqual([
    { id: 'sim-01', state: 'active' },
    { id: 'sim-yaml', state: 'removed' },
  ]);
});

it('checks a stored connector against its system: what would be stored and dead-lettered, writing nothing', async () => {
  const before = await env.db.selectFrom('connectors').selectAll().where('id', '=', 'sim-01').executeTakeFirstOrThrow();
  const checked = await call('POST', '/connectors/sim-01/check');
  expect(checked.status).toBe(200);
  const body = checked.body as {
    ok: boolean;
    recordsRead: number;
    stored: { count: number; examples: unknown[] };
    deadLettered: {
      count: number;
      byReason: { reason: string; count: number; examples: { dossierCode: string; message: string }[] }[];
    };
  };
  expect(body).toMatchObject({ connectorId: 'sim-01', ok: true, stage: 'read', recordsRead: 250, hasMore: true });
  expect(body.stored.count + body.deadLettered.count).toBe(250);
  expect(body.deadLettered.count).toBeGreaterThan(0);
  expect(body.stored.examples[0]).toEqual({
    dossierCode: expect.stringMatching(/^01\./),
    status: expect.any(Number),
    sourceStatus: expect.any(String),
    submittedAt: expect.any(String),
    dueAt: expect.anything(),
    sourceUpdatedAt: expect.any(String),
    fields: expect.arrayContaining([
      { field: 'provinceCode', stored: '01', sources: [{ path: 'MaTinh', value: '01' }] },
      {
        field: 'sourceUpdatedAt',
        stored: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00$/),
        sources: [{ path: 'NgayCapNhat', value: expect.stringMatching(/^\d{14}$/) }],
      },
    ]),
  });
  expect(body).toMatchObject({ source: 'page', passed: false, acceptedDeadLetterPercent: 0 });
  expect((body as unknown as { deadLettered: { percent: number } }).deadLettered.percent).toBe(
    (body.deadLettered.count * 100) / 250,
  );
  const accepting = await call('POST', '/connectors/sim-01/check', { acceptDeadLetters: 100 });
  expect(accepting).toMatchObject({ status: 200, body: { ok: true, passed: true, acceptedDeadLetterPercent: 100 } });
  expect(await call('POST', '/connectors/sim-01/check', { acceptDeadLetters: 101 })).toMatchObject({
    status: 400,
    body: { code: 'invalid_request' },
  });
  expect(body.deadLettered.byReason[0]!.examples[0]).toEqual({
    dossierCode: expect.stringMatching(/^01\./),
    message: expect.any(String),
  });
  expect(
    await env.db.selectFrom('connectors').selectAll().where('id', '=', 'sim-01').executeTakeFirstOrThrow(),
  ).toEqual(before);
  const counts = await sql<{
    dossiers: string;
    letters: string;
  }>`SELECT (SELECT count(*) FROM dossiers) AS dossiers, (SELECT count(*) FROM dead_letters) AS letters`.execute(
    env.db,
  );
  expect(counts.rows[0]).toEqual({ dossiers: '0', letters: '0' });
});

it('registers a push-only connector and checks a sample body it would push, without any network', async () => {
  const pushOnly = {
    id: 'push-01',
    province: { code: '01' },
    webhook: { recordsPath: 'items' },
    fields: {
      dossierCode: 'code',
      status: 'state',
      sourceUpdatedAt: { path: 'changedAt', format: 'yyyyMMddHHmmss' },
      sourceVersion: 'version',
    },
    statuses: { preset: 'english' },
  };
  const created = await call('POST', '/connectors', pushOnly);
  expect(created).toMatchObject({
    status: 201,
    body: { id: 'push-01', kind: 'declarative', state: 'active', polled: false, cursor: null },
  });
  expect((await call('GET', '/connectors')).body.connectors).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ id: 'sim-01', polled: true }),
      expect.objectContaining({ id: 'push-01', polled: false }),
    ]),
  );

  const sample = {
    items: [
      { code: 'P-1', state: 'processing', changedAt: '20261127080000', version: 3 },
      { code: 'P-2', state: 'teleported', changedAt: '20261127080000', version: 1 },
    ],
  };
  const checked = await call('POST', '/connectors/push-01/check', { sample });
  expect(checked.status).toBe(200);
  expect(checked.body).toMatchObject({
    ok: true,
    stage: 'read',
    source: 'sample',
    recordsRead: 2,
    stored: { count: 1 },
    deadLettered: { count: 1, percent: 50 },
    passed: false,
    warnings: [],
  });
  const example = (checked.body as { stored: { examples: { fields: unknown[] }[] } }).stored.examples[0]!;
  expect(example.fields).toEqual(
    expect.arrayContaining([
      {
        field: 'sourceUpdatedAt',
        stored: '2026-11-27T08:00:00+07:00',
        sources: [{ path: 'changedAt', value: '20261127080000' }],
      },
      { field: 'sourceVersion', stored: 3, sources: [{ path: 'version', value: 3 }] },
      { field: 'provinceCode', stored: '01', sources: [], note: "none in the record: the connector's own province" },
    ]),
  );
  expect(await call('POST', '/connectors/push-01/check', { sample, acceptDeadLetters: 50 })).toMatchObject({
    status: 200,
    body: { passed: true },
  });
  expect(await call('POST', '/connectors/push-01/check', { sample: { data: sample.items } })).toMatchObject({
    status: 200,
    body: {
      ok: false,
      stage: 'body',
      message: expect.stringMatching(/^webhook\.recordsPath "items": expected one update/),
    },
  });
  expect(await call('POST', '/connectors/push-01/check')).toMatchObject({
    status: 422,
    body: {
      code: 'sample_required',
      detail:
        'connector push-01 only takes pushes (its definition has no http, request and records), so there is nothing to read; give a body its system pushes as "sample" in the request body',
    },
  });
  const counts = await sql<{
    dossiers: string;
    letters: string;
  }>`SELECT (SELECT count(*) FROM dossiers) AS dossiers, (SELECT count(*) FROM dead_letters) AS letters`.execute(
    env.db,
  );
  expect(counts.rows[0]).toEqual({ dossiers: '0', letters: '0' });
});
