import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listAuditEvents } from '../../../db/queries/audit-events.js';
import { insertDeadLetters } from '../../../db/queries/insert-dead-letters.js';
import { keepFailedBatch } from '../../../db/queries/insert-failed-batch.js';
import { definitionHash } from '../../../workers/control-plane/audit.js';
import { secretsKeyId } from '../../../workers/webhooks/secret-box.js';
import { startFleet, type Fleet } from '../../../workers/fleet.js';
import { createLogger } from '../../../workers/logger.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { runFleetApart } from '../../scripts/cli/run-fleet-apart.js';

// A scripted sequence of changes, some through `fleet`, some through the admin API: the audit trail then holds
// exactly that sequence (who, what, on which connector or key, the definition's hash before and after an update),
// no secret anywhere in it; `fleet audit list -o json` prints what GET /v1/admin/audit returns; and no row can be
// changed or deleted afterwards, not even by the fleet's own role.

const secretsKey = randomBytes(32).toString('base64');
/** The master key rotated to, before `fleet secrets rekey`. */
const nextSecretsKey = randomBytes(32).toString('base64');
let env: TestEnvironment;
let gateway: Fleet;
let cli: Record<string, string>;
let adminKey: { id: string; key: string };
const secrets: string[] = [];
const user = userInfo().username;

const fleet = (...args: string[]) => runFleetApart(args, cli);
async function ok(...args: string[]): Promise<string> {
  const run = await fleet(...args);
  expect(run, args.join(' ')).toMatchObject({ code: 0, stderr: '' });
  return run.stdout;
}
async function admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${gateway.url}/v1/admin${path}`, {
    method,
    headers: {
      authorization: `Bearer ${adminKey.key}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: await response.json() };
}

/** The vendor's API key, which the definition names only by reference (from the update on). */
const vendorKey = `vendor-${randomBytes(12).toString('hex')}`;
const definition = (pageSize: number) => ({
  id: 'danang',
  description: 'Đà Nẵng one-stop-shop',
  province: { code: '48' },
  plugin: {
    name: 'national-rest',
    config: {
      baseUrl: 'http://127.0.0.1:9',
      pageSize,
      ...(pageSize === 50 ? { apiKey: { env: 'AUDIT_TEST_DANANG_KEY' } } : {}),
    },
  },
});

beforeAll(async () => {
  env = await createTestEnvironment({ SECRETS_KEY: secretsKey });
  secrets.push(secretsKey, nextSecretsKey, vendorKey);
  process.env.AUDIT_TEST_DANANG_KEY = vendorKey;
  cli = {
    DATABASE_URL: env.config.DATABASE_URL,
    REDIS_URL: env.config.REDIS_URL,
    QUEUE_PREFIX: env.config.QUEUE_PREFIX,
    SECRETS_KEY: secretsKey,
    AUDIT_TEST_DANANG_KEY: vendorKey,
    LOG_LEVEL: 'silent',
  };
  gateway = await startFleet(env.config, ['gateway'], createLogger('silent'));
}, 60_000);
afterAll(async () => {
  await gateway?.stop();
  await env?.cleanup();
});

it('records a scripted sequence of changes through fleet and the admin API, as it happened', async () => {
  const created = (await ok('apikey', 'create', '--name', 'ops', '--scope', 'admin')).trimEnd().split('\n');
  adminKey = { id: /API key (\d+)/.exec(created[0]!)![1]!, key: created.at(-1)! };
  secrets.push(adminKey.key);

  expect((await admin('POST', '/connectors', definition(100))).status).toBe(201);
  expect((await admin('PUT', '/connectors/danang', definition(50))).status).toBe(200);
  expect((await admin('POST', '/connectors/danang/pause')).status).toBe(200);
  // Pausing a paused connector changes nothing, and is not recorded.
  expect((await admin('POST', '/connectors/danang/pause')).status).toBe(200);
  expect((await admin('POST', '/connectors/danang/resume')).status).toBe(200);

  const rotated = await ok('connector', 'rotate-secret', 'danang', '--grace', '0');
  secrets.push(rotated.trimEnd().split('\n').at(-1)!);
  expect(secrets.at(-1)).toMatch(/^whsec_/);

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
  // Still not mappable: looked at, kept (no writer needed, as nothing is committed).
  await ok('dlq', 'replay', '--connector', 'danang');
  await ok('dlq', 'discard', '--connector', 'danang');

  const failed = async (code: string) =>
    (
      await keepFailedBatch(env.db, {
        provinceCode: '48',
        batch: {
          origin: 'push',
          connectorId: 'danang',
          provinceCode: '48',
          records: [dossierRecord({ dossierCode: code, connectorId: 'danang' })],
          deadLetters: [],
        },
        error: 'the test refuses this batch',
        attempts: 3,
        failedAt: new Date('2026-11-20T02:00:00.000Z'),
        job: `ingest-48:${code}`,
      })
    ).id;
  const toRetry = await failed('48.2026.000009');
  const toDiscard = await failed('48.2026.000010');
  await ok('failed-batch', 'retry', toRetry);
  await ok('failed-batch', 'discard', toDiscard);
  const toRetryByKey = await failed('48.2026.000011');
  const toDiscardByKey = await failed('48.2026.000012');
  expect((await admin('POST', '/failed-batches/retry', { ids: [toRetryByKey] })).body).toEqual({
    retried: 1,
    records: 1,
  });
  expect((await admin('POST', '/failed-batches/discard', { ids: [toDiscardByKey] })).body).toEqual({ discarded: 1 });

  // The master key rotates: the new key first, the old one after it, then rekey.
  const rekey = await fleet('secrets', 'rekey');
  expect(rekey.code).toBe(0);
  const rekeyCli = { ...cli, SECRETS_KEYS: `${nextSecretsKey},${secretsKey}` };
  delete (rekeyCli as Record<string, string | undefined>).SECRETS_KEY;
  expect(await runFleetApart(['secrets', 'rekey'], rekeyCli)).toMatchObject({ code: 0 });

  const temporary = (await ok('apikey', 'create', '--name', 'temporary', '--scope', 'portal:read'))
    .trimEnd()
    .split('\n');
  const temporaryId = /API key (\d+)/.exec(temporary[0]!)![1]!;
  secrets.push(temporary.at(-1)!);
  await ok('apikey', 'revoke', temporaryId);
  const team = (await admin('POST', '/api-keys', { name: 'Đà Nẵng team', scope: 'admin', provinces: ['48'] })).body as {
    apiKey: { id: string };
    key: string;
  };
  secrets.push(team.key);
  expect((await admin('POST', `/api-keys/${team.apiKey.id}/revoke`)).status).toBe(200);

  expect((await admin('DELETE', '/connectors/danang')).status).toBe(200);

  const viaCli = { kind: 'cli', id: user, name: user };
  const viaKey = { kind: 'api_key', id: adminKey.id, name: 'ops' };
  const onDanang = { connectorId: 'danang', provinceCode: '48', apiKeyId: null };
  const noDefinition = { definitionHashBefore: null, definitionHashAfter: null };
  const { events } = (await admin('GET', '/audit')).body as { events: Record<string, unknown>[] };
  expect(events.map(({ id: _id, at: _at, ...event }) => event)).toEqual([
    {
      actor: viaCli,
      action: 'api_key.create',
      connectorId: null,
      provinceCode: null,
      apiKeyId: adminKey.id,
      ...noDefinition,
      details: { name: 'ops', scope: 'admin' },
    },
    {
      actor: viaKey,
      action: 'connector.add',
      ...onDanang,
      definitionHashBefore: null,
      definitionHashAfter: definitionHash(definition(100)),
      details: { outcome: 'added' },
    },
    {
      actor: viaKey,
      action: 'connector.update',
      ...onDanang,
      definitionHashBefore: definitionHash(definition(100)),
      definitionHashAfter: definitionHash(definition(50)),
      details: {},
    },
    {
      actor: viaKey,
      action: 'connector.pause',
      ...onDanang,
      ...noDefinition,
      details: { from: 'active', to: 'paused' },
    },
    {
      actor: viaKey,
      action: 'connector.resume',
      ...onDanang,
      ...noDefinition,
      details: { from: 'paused', to: 'active' },
    },
    {
      actor: viaCli,
      action: 'webhook_secret.rotate',
      ...onDanang,
      ...noDefinition,
      details: { graceSeconds: 0, previousSecrets: 0 },
    },
    {
      actor: viaCli,
      action: 'dead_letter.replay',
      ...onDanang,
      ...noDefinition,
      details: { deadLetters: 1, replayed: 0, stillFailing: 1 },
    },
    { actor: viaCli, action: 'dead_letter.discard', ...onDanang, ...noDefinition, details: { deadLetters: 1 } },
    {
      actor: viaCli,
      action: 'failed_batch.retry',
      ...onDanang,
      ...noDefinition,
      details: { failedBatches: 1, ids: [toRetry] },
    },
    {
      actor: viaCli,
      action: 'failed_batch.discard',
      ...onDanang,
      ...noDefinition,
      details: { failedBatches: 1, ids: [toDiscard] },
    },
    {
      actor: viaKey,
      action: 'failed_batch.retry',
      ...onDanang,
      ...noDefinition,
      details: { failedBatches: 1, ids: [toRetryByKey] },
    },
    {
      actor: viaKey,
      action: 'failed_batch.discard',
      ...onDanang,
      ...noDefinition,
      details: { failedBatches: 1, ids: [toDiscardByKey] },
    },
    // The first rekey had one key only: nothing to do, nothing recorded. Key ids only, never a key.
    {
      actor: viaCli,
      action: 'secrets.rekey',
      connectorId: null,
      provinceCode: null,
      apiKeyId: null,
      ...noDefinition,
      details: {
        rekeyed: 1,
        fromKeys: [{ keyId: secretsKeyId(Buffer.from(secretsKey, 'base64')), secrets: 1 }],
        toKeyId: secretsKeyId(Buffer.from(nextSecretsKey, 'base64')),
        unreadable: 0,
        stopped: false,
      },
    },
    {
      actor: viaCli,
      action: 'api_key.create',
      connectorId: null,
      provinceCode: null,
      apiKeyId: temporaryId,
      ...noDefinition,
      details: { name: 'temporary', scope: 'portal:read' },
    },
    {
      actor: viaCli,
      action: 'api_key.revoke',
      connectorId: null,
      provinceCode: null,
      apiKeyId: temporaryId,
      ...noDefinition,
      details: {},
    },
    {
      actor: viaKey,
      action: 'api_key.create',
      connectorId: null,
      provinceCode: null,
      apiKeyId: team.apiKey.id,
      ...noDefinition,
      details: { name: 'Đà Nẵng team', scope: 'admin', provinces: ['48'] },
    },
    {
      actor: viaKey,
      action: 'api_key.revoke',
      connectorId: null,
      provinceCode: null,
      apiKeyId: team.apiKey.id,
      ...noDefinition,
      details: { provinces: ['48'] },
    },
    {
      actor: viaKey,
      action: 'connector.remove',
      ...onDanang,
      ...noDefinition,
      details: { from: 'active', to: 'removed' },
    },
  ]);
}, 180_000);

it('keeps no secret anywhere in the rows: not the API keys, the webhook secret, the vendor key nor the secrets key', async () => {
  const { rows } = await sql<Record<string, unknown>>`SELECT * FROM audit_events`.execute(env.db);
  const text = JSON.stringify(rows);
  expect(rows.length).toBe(18);
  expect(secrets).toHaveLength(7);
  for (const secret of secrets) expect(text).not.toContain(secret);
  for (const secret of secrets) expect(text).not.toContain(Buffer.from(secret).toString('base64'));
});

it('prints with fleet audit list -o json what GET /v1/admin/audit returns, filters included', async () => {
  const all = await admin('GET', '/audit');
  expect(JSON.parse(await ok('audit', 'list', '-o', 'json'))).toEqual(all.body);

  const { events } = all.body as { events: { id: string; at: string; connectorId: string | null }[] };
  const since = events[6]!.at;
  const filtered = await admin('GET', `/audit?connector=danang&since=${encodeURIComponent(since)}&limit=3`);
  expect(
    JSON.parse(await ok('audit', 'list', '--connector', 'danang', '--since', since, '--limit', '3', '-o', 'json')),
  ).toEqual(filtered.body);
  const page = filtered.body as { events: { id: string; connectorId: string; at: string }[]; nextCursor: string };
  expect(page.events).toHaveLength(3);
  expect(page.events.every((event) => event.connectorId === 'danang' && event.at >= since)).toBe(true);

  // The rest, by the cursor: the danang events from `since` on, none twice.
  const rest = (
    await admin('GET', `/audit?connector=danang&since=${encodeURIComponent(since)}&cursor=${page.nextCursor}`)
  ).body as { events: { id: string }[]; nextCursor: string | null };
  const expected = events.filter((event) => event.connectorId === 'danang' && event.at >= since).map(({ id }) => id);
  expect([...page.events, ...rest.events].map(({ id }) => id)).toEqual(expected);
  expect(rest.nextCursor).toBeNull();

  const bad = await admin('GET', '/audit?cursor=abc&limit=0');
  expect(bad.status).toBe(400);
  expect(bad.body).toMatchObject({ code: 'invalid_request' });
}, 60_000);

it('refuses to update, delete or truncate a recorded change, even to the table owner', async () => {
  for (const statement of [
    sql`UPDATE audit_events SET actor_name = 'someone else'`,
    sql`DELETE FROM audit_events`,
    sql`TRUNCATE audit_events`,
  ])
    await expect(statement.execute(env.db)).rejects.toThrow(
      /audit_events is append-only: (UPDATE|DELETE|TRUNCATE) is not allowed/,
    );
  const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM audit_events`.execute(env.db);
  expect(Number(rows[0]!.n)).toBe(18);
});

it("lists to a province key only the changes of its provinces and of keys bound to them, no national key's", async () => {
  const all = await listAuditEvents(env.db, { provinces: null }, { limit: 100 });
  const danang = await listAuditEvents(env.db, { provinces: ['48'] }, { limit: 100 });
  const boundTo48 = (row: (typeof all)[number]) =>
    JSON.stringify((row.details as { provinces?: unknown }).provinces) === '["48"]';
  expect(danang.map(({ id }) => id)).toEqual(
    all.filter((row) => row.province_code === '48' || boundTo48(row)).map(({ id }) => id),
  );
  expect(danang).toHaveLength(14);
  expect(danang.filter((row) => row.action.startsWith('api_key.'))).toHaveLength(2);
  expect(await listAuditEvents(env.db, { provinces: ['01', '48'] }, { limit: 100 })).toEqual(danang);
  expect(await listAuditEvents(env.db, { provinces: ['01'] }, { limit: 100 })).toEqual([]);
  expect(await listAuditEvents(env.db, { provinces: [] }, { limit: 100 })).toEqual([]);
});
