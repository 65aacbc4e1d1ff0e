import { cliActor } from '../../../workers/control-plane/audit.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { insertDeadLetters } from '../../../db/queries/insert-dead-letters.js';
import { keepFailedBatch } from '../../../db/queries/insert-failed-batch.js';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { runFleetApart } from './run-fleet-apart.js';

// `-o json` (and `-o yaml` where a definition is shown) prints the view the admin API returns: the same JSON,
// whole, for the same connector. Dead letters, failed batches and keys have their views too, for scripts.

let env: TestEnvironment;
let gateway: Fleet;
let key: string;
let dir: string;
let cli: Record<string, string>;
let batchId: string;

const fleet = (...args: string[]) => runFleetApart(args, cli);
async function admin(path: string): Promise<unknown> {
  const response = await fetch(`${gateway.url}/v1/admin${path}`, { headers: { authorization: `Bearer ${key}` } });
  expect(response.status).toBe(200);
  return response.json();
}
/** A command's stdout as JSON, once it has exited 0 with nothing on stderr. */
async function json(...args: string[]): Promise<unknown> {
  const run = await fleet(...args);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(run.stdout) as unknown;
}

beforeAll(async () => {
  env = await createTestEnvironment();
  cli = {
    DATABASE_URL: env.config.DATABASE_URL,
    REDIS_URL: env.config.REDIS_URL,
    QUEUE_PREFIX: env.config.QUEUE_PREFIX,
    LOG_LEVEL: 'silent',
  };
  dir = await mkdtemp(join(tmpdir(), 'output-json-'));
  await writeFile(
    join(dir, 'hanoi.yaml'),
    'id: hanoi\ndescription: Hà Nội one-stop-shop\nprovince:\n  code: "01"\nplugin:\n  name: national-rest\n  config:\n    baseUrl: http://127.0.0.1:9\n    pageSize: 100\n',
  );
  gateway = await startFleet(env.config, ['gateway'], createLogger('silent'));
  ({ key } = await createApiKey(env.db, 'ops', 'admin', { actor: cliActor() }));
  await saveConnector(env.db, {
    id: 'danang',
    sourceProvinceCode: '48',
    sourceCodeSet: '2025',
    kind: 'national-rest',
    config: { baseUrl: 'http://127.0.0.1:9' },
    pollIntervalMs: 60_000,
  });
  await env.db
    .insertInto('sync_cursors')
    .values({
      connector_id: 'danang',
      position: JSON.stringify({ updatedSince: '20261120080000', afterCode: '48.2026.000007' }),
      records_committed: 137,
    })
    .execute();
  await insertDeadLetters(env.db, [
    {
      connectorId: 'danang',
      provinceCode: '48',
      dossierCode: '48.2026.000002',
      reason: 'unknown_status',
      message: 'status "99" is not a known status',
      rawPayload: { MaHoSo: '48.2026.000002', TrangThaiHoSo: '99' },
      receivedAt: '2026-11-20T01:00:00.000Z',
    },
  ]);
  ({ id: batchId } = await keepFailedBatch(env.db, {
    provinceCode: '48',
    batch: {
      origin: 'push',
      connectorId: 'danang',
      provinceCode: '48',
      records: [dossierRecord({ dossierCode: '48.2026.000009', connectorId: 'danang' })],
      deadLetters: [],
    },
    error: 'the test refuses this batch',
    attempts: 3,
    failedAt: new Date('2026-11-20T02:00:00.000Z'),
    job: 'ingest-48:1:1',
  }));
});
afterAll(async () => {
  await gateway?.stop();
  await rm(dir, { recursive: true, force: true });
  await env?.cleanup();
});

it('prints on add the connector the admin API then returns, as JSON', async () => {
  const added = await json('connector', 'add', '--file', join(dir, 'hanoi.yaml'), '-o', 'json');
  expect(added).toEqual(await admin('/connectors/hanoi'));
  expect(added).toMatchObject({
    id: 'hanoi',
    provinceCode: '01',
    kind: 'national-rest',
    state: 'active',
    polled: true,
    definition: { id: 'hanoi' },
  });
});

it('lists the connectors as GET /v1/admin/connectors returns them', async () => {
  const listed = await json('connector', 'list', '-o', 'json');
  expect(listed).toEqual(await admin('/connectors'));
  expect(listed).toMatchObject({
    connectors: [
      { id: 'danang', cursor: { position: { afterCode: '48.2026.000007' }, recordsCommitted: 137 } },
      { id: 'hanoi', cursor: null },
    ],
  });
});

it('shows one connector as GET /v1/admin/connectors/ID returns it, in JSON and in YAML', async () => {
  const view = await admin('/connectors/danang');
  expect(await json('connector', 'show', 'danang', '-o', 'json')).toEqual(view);
  const yaml = await fleet('connector', 'show', 'danang', '-o', 'yaml');
  expect(yaml).toMatchObject({ code: 0, stderr: '' });
  expect(parseYaml(yaml.stdout)).toEqual(view);
});

it('prints on pause the connector as the admin API lists it', async () => {
  const paused = await json('connector', 'pause', 'danang', '-o', 'json');
  expect(paused).toMatchObject({ id: 'danang', state: 'paused' });
  expect(paused).toEqual(((await admin('/connectors')) as { connectors: unknown[] }).connectors[0]);
});

it('refuses a format a verb does not print, with exit 2', async () => {
  const run = await fleet('connector', 'list', '-o', 'yaml');
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/argument 'yaml' is invalid\. Allowed choices are json/);
});

it('prints dead letters, failed batches and API keys as JSON views, never a key', async () => {
  const letters = (await json('dlq', 'list', '-o', 'json')) as { deadLetters: { id: string }[] };
  expect(letters).toEqual({
    counts: [{ reason: 'unknown_status', count: 1 }],
    deadLetters: [
      {
        id: expect.any(String),
        connectorId: 'danang',
        provinceCode: '48',
        dossierCode: '48.2026.000002',
        reason: 'unknown_status',
        message: 'status "99" is not a known status',
        state: 'new',
        receivedAt: '2026-11-20T01:00:00.000Z',
      },
    ],
  });
  expect(await json('dlq', 'show', letters.deadLetters[0]!.id, '-o', 'json')).toEqual({
    deadLetters: [{ ...letters.deadLetters[0], rawPayload: { MaHoSo: '48.2026.000002', TrangThaiHoSo: '99' } }],
  });

  const batches = await json('failed-batch', 'list', '-o', 'json');
  expect(batches).toEqual({
    counts: [{ provinceCode: '48', count: 1 }],
    failedBatches: [
      {
        id: batchId,
        provinceCode: '48',
        connectorId: 'danang',
        origin: 'push',
        records: 1,
        deadLetters: 0,
        error: 'the test refuses this batch',
        attempts: 3,
        failures: 1,
        state: 'failed',
        stateChangedAt: null,
        firstFailedAt: expect.any(String),
        failedAt: '2026-11-20T02:00:00.000Z',
      },
    ],
  });
  const shown = await json('failed-batch', 'show', batchId, '-o', 'json');
  expect(shown).toEqual({
    ...(batches as { failedBatches: object[] }).failedBatches[0],
    dossierCodes: ['48.2026.000009'],
    deadLettersByReason: [],
    cursor: null,
    unreadable: null,
  });
  expect(shown).toEqual(await admin(`/failed-batches/${batchId}`));
  expect({ ...(batches as object), nextCursor: null }).toEqual(await admin('/failed-batches'));
  expect(await json('failed-batch', 'show', batchId, '--batch', '-o', 'json')).toMatchObject({
    batch: { origin: 'push', records: [{ dossierCode: '48.2026.000009' }] },
  });

  const keys = await fleet('apikey', 'list', '-o', 'json');
  const stored = await env.db
    .selectFrom('api_keys')
    .select(['id', 'created_at', 'last_used_at'])
    .executeTakeFirstOrThrow();
  expect(JSON.parse(keys.stdout)).toEqual({
    apiKeys: [
      {
        id: String(stored.id),
        name: 'ops',
        scope: 'admin',
        provinces: null,
        createdAt: stored.created_at.toISOString(),
        lastUsedAt: stored.last_used_at && new Date(stored.last_used_at).toISOString(),
        revokedAt: null,
      },
    ],
  });
  expect(JSON.parse(keys.stdout)).toEqual(await admin('/api-keys'));
  expect(keys.stdout).not.toContain(key);
});
