import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { insertAuditEvents } from '../../../db/queries/audit-events.js';
import { keepFailedBatch } from '../../../db/queries/insert-failed-batch.js';
import { ingestQueueName } from '../../../workers/queue/queues.js';
import { createRedis } from '../../../workers/redis.js';
import { dossierRecord } from '../../support/records.js';
import { insertBackfillRun } from '../../../db/queries/backfill-runs.js';
import { saveConnector } from '../../../db/queries/connectors.js';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { servedRoutes, startGatewayServer, type GatewayServer } from './gateway-server.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import { SecretBox } from '../../../workers/webhooks/secret-box.js';

// A province key (bound to 24, Bắc Ninh) against every admin route: its own province's connectors — one registered
// in the 2008 code set under 27, which belongs to its successor 24 — answer as to a national key; another
// province's answer exactly as an unknown id does (byte for byte apart from the id), and nothing changes in the
// database. A definition naming another province is 403, naming only the key's own provinces. Its dead letters and
// webhook secrets likewise: it lists, reads and discards only its own letters, rotates only its own secrets, and the
// audit trail says it did. Its failed batches too: it lists, shows, retries (onto its province's ingest queue) and
// discards only its own. And API keys: it sees, creates and revokes only keys bound to some of its provinces; a
// national key or one holding another province is unknown to it.

let env: TestEnvironment;
let gateway: GatewayServer;
let provinceKey: { id: string; key: string };
let nationalKey: { id: string; key: string };
const logLines: string[] = [];

/** One dead letter per connector, with ids of one length, so an unknown id (9999) answers in as many bytes. */
const letterOf: Record<string, string> = { 'bn-24': '1001', 'bn-old': '1002', 'hcm-79': '1003', 'bd-old': '1004' };
/** One failed batch and one API key per connector (ids given in beforeAll, one digit each), and unknown ids. */
const batchOf: Record<string, string> = {};
const keyOf: Record<string, { id: string; key: string }> = {};
const unknownRow = '9';
/** One backfill run per connector of two (ids given in the backfill test, one digit each). */
const runOf: Record<string, string> = {};
/** The provinces of each connector's key: own (24), own, another's (79), and one holding both. */
const keyProvincesOf: Record<string, string[]> = {
  'bn-24': ['24'],
  'bn-old': ['24'],
  'hcm-79': ['79'],
  'bd-old': ['24', '79'],
};

const baseUrl = 'http://127.0.0.1:9';
const definition = (id: string, code: string, codeSet: '2025' | '2008' = '2025') => ({
  id,
  province: { code, codeSet },
  plugin: { name: 'national-rest', config: { baseUrl } },
});

interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

async function call(method: string, path: string, body?: unknown, key = provinceKey): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${key.key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${gateway.url}/v1/admin${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const { date: _date, ...rest } = Object.fromEntries(response.headers);
  return { status: response.status, headers: rest, text: await response.text() };
}

/** The connectors table, as it is: what a refused request must leave alone. */
const connectorsTable = () => env.db.selectFrom('connectors').selectAll().orderBy('id').execute();
/** Everything else a refused request must leave alone: dead letters, webhook secrets, the audit trail. */
const otherTables = async () => ({
  deadLetters: await env.db.selectFrom('dead_letters').selectAll().orderBy('id').execute(),
  secrets: await env.db.selectFrom('webhook_secrets').selectAll().execute(),
  audit: await env.db.selectFrom('audit_events').selectAll().orderBy('id').execute(),
  failedBatches: await env.db.selectFrom('failed_batches').selectAll().orderBy('id').execute(),
  backfillRuns: await env.db.selectFrom('backfill_runs').selectAll().orderBy('id').execute(),
  // Without last_used_at, which the asking key's own requests move.
  apiKeys: await env.db
    .selectFrom('api_keys')
    .select(['id', 'name', 'scope', 'provinces', 'revoked_at'])
    .orderBy('id')
    .execute(),
});

async function register(id: string, code: string, codeSet: '2025' | '2008') {
  await saveConnector(env.db, {
    id,
    sourceProvinceCode: code,
    sourceCodeSet: codeSet,
    kind: 'national-rest',
    config: { baseUrl },
    pollIntervalMs: 60_000,
  });
}

/** Every admin route with an id, as a request a test can send for a connector id. */
const idRoutes: Record<string, (id: string) => [string, string, unknown?]> = {
  'GET /v1/admin/connectors/{id}': (id) => ['GET', `/connectors/${id}`],
  'PUT /v1/admin/connectors/{id}': (id) => ['PUT', `/connectors/${id}`, definition(id, '24')],
  'POST /v1/admin/connectors/{id}/pause': (id) => ['POST', `/connectors/${id}/pause`],
  'POST /v1/admin/connectors/{id}/resume': (id) => ['POST', `/connectors/${id}/resume`],
  'POST /v1/admin/connectors/{id}/check': (id) => ['POST', `/connectors/${id}/check`, { sample: { items: [] } }],
  'GET /v1/admin/connectors/{id}/status': (id) => ['GET', `/connectors/${id}/status`],
  'POST /v1/admin/connectors/{id}/rotate-secret': (id) => ['POST', `/connectors/${id}/rotate-secret`, {}],
  'GET /v1/admin/dead-letters/{id}': (id) => ['GET', `/dead-letters/${letterOf[id] ?? '9999'}`],
  'GET /v1/admin/failed-batches/{id}': (id) => ['GET', `/failed-batches/${batchOf[id] ?? unknownRow}`],
  'POST /v1/admin/api-keys/{id}/revoke': (id) => ['POST', `/api-keys/${keyOf[id]?.id ?? unknownRow}/revoke`],
  'POST /v1/admin/backfills/{id}/cancel': (id) => ['POST', `/backfills/${runOf[id] ?? unknownRow}/cancel`],
  'POST /v1/admin/connectors/{id}/backfill': (id) => [
    'POST',
    `/connectors/${id}/backfill`,
    { from: '2026-11-01', to: '2026-11-02' },
  ],
  'POST /v1/admin/connectors/{id}/reconcile': (id) => ['POST', `/connectors/${id}/reconcile`, {}],
  'DELETE /v1/admin/connectors/{id}': (id) => ['DELETE', `/connectors/${id}`],
};

beforeAll(async () => {
  env = await createTestEnvironment();
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  gateway = await startGatewayServer(env, { logger, secretBox: new SecretBox(randomBytes(32).toString('base64')) });
  provinceKey = await createApiKey(env.db, 'Bắc Ninh IT team', 'admin', { actor: cliActor(), provinces: ['24'] });
  nationalKey = await createApiKey(env.db, 'operators', 'admin', { actor: cliActor() });
  await register('bn-24', '24', '2025');
  await register('bn-old', '27', '2008');
  await register('hcm-79', '79', '2025');
  await register('bd-old', '74', '2008');
  await env.db
    .insertInto('dead_letters')
    .values(
      Object.entries(letterOf).map(([connectorId, id]) => ({
        id,
        connector_id: connectorId,
        province_code: null,
        dossier_code: `D-${id}`,
        reason: 'invalid_record',
        message: 'status: expected 1 to 10',
        fingerprint: `f-${id}`,
        raw_payload: JSON.stringify({ code: `D-${id}`, status: 99 }),
        received_at: new Date('2026-11-27T01:00:00Z'),
      })),
    )
    .execute();
  for (const connectorId of Object.keys(letterOf)) {
    ({ id: batchOf[connectorId] } = await keepFailedBatch(env.db, {
      provinceCode: connectorId.startsWith('bn') ? '24' : '79',
      batch: {
        origin: 'push',
        connectorId,
        provinceCode: connectorId.startsWith('bn') ? '24' : '79',
        records: [dossierRecord({ dossierCode: `B-${connectorId}`, connectorId })],
        deadLetters: [],
      },
      error: 'the test refuses this batch',
      attempts: 3,
      failedAt: new Date('2026-11-27T02:00:00Z'),
      job: `ingest:${connectorId}`,
    }));
    keyOf[connectorId] = await createApiKey(env.db, `${connectorId} portal`, 'portal:read', {
      actor: cliActor(),
      provinces: keyProvincesOf[connectorId],
    });
  }
});
afterAll(async () => {
  await gateway?.close();
  await env?.cleanup();
});

describe('a key bound to province 24 on the admin API', () => {
  it('is tested on every admin route the gateway serves', () => {
    const admin = servedRoutes(gateway.server).filter((route) => route.includes(' /v1/admin/'));
    expect(admin).toEqual(
      [
        ...Object.keys(idRoutes),
        'GET /v1/admin/api-keys',
        'POST /v1/admin/api-keys',
        'GET /v1/admin/audit',
        'GET /v1/admin/backfills',
        'GET /v1/admin/connectors',
        'POST /v1/admin/connectors',
        'GET /v1/admin/dead-letters',
        'POST /v1/admin/dead-letters/discard',
        'GET /v1/admin/failed-batches',
        'POST /v1/admin/failed-batches/discard',
        'POST /v1/admin/failed-batches/retry',
        'GET /v1/admin/reconcile-runs',
      ].sort(),
    );
  });

  it("reads only its provinces' audit events, and the events of the keys it sees", async () => {
    const actor = { actor_kind: 'cli', actor_id: 'root', actor_name: 'root' } as const;
    await insertAuditEvents(env.db, [
      { ...actor, action: 'connector.pause', connector_id: 'bn-old', province_code: '24' },
      { ...actor, action: 'connector.pause', connector_id: 'hcm-79', province_code: '79' },
      { ...actor, action: 'api_key.revoke', api_key_id: '1' },
    ]);
    const listed = await call('GET', '/audit');
    expect(listed.status).toBe(200);
    const events = (
      JSON.parse(listed.text) as { events: { action: string; connectorId: string | null; apiKeyId: string | null }[] }
    ).events;
    expect(events.filter(({ connectorId }) => connectorId !== null).map(({ connectorId }) => connectorId)).toEqual([
      'bn-old',
    ]);
    // The creation of itself and of the keys bound to 24 alone; no national key's, none holding 79.
    expect(events.filter(({ connectorId }) => connectorId === null)).toEqual(
      [provinceKey.id, keyOf['bn-24']!.id, keyOf['bn-old']!.id].map((id) =>
        expect.objectContaining({ action: 'api_key.create', apiKeyId: id }),
      ),
    );
  });

  it("lists only its provinces' backfill runs", async () => {
    const run = { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-02T00:00:00Z'), windowHours: 24 };
    const own = await insertBackfillRun(env.db, {
      ...run,
      connectorId: 'bn-old',
      provinceCode: '24',
      windowsTotal: 1,
      startedBy: 'cli:root',
    });
    const foreign = await insertBackfillRun(env.db, {
      ...run,
      connectorId: 'hcm-79',
      provinceCode: '79',
      windowsTotal: 1,
      startedBy: 'cli:root',
    });
    runOf['bn-old'] = own!.id;
    runOf['hcm-79'] = foreign!.id;
    const listed = await call('GET', '/backfills');
    expect(listed.status).toBe(200);
    const runs = (JSON.parse(listed.text) as { runs: { connectorId: string; provinceCode: string }[] }).runs;
    expect(runs).toMatchObject([{ connectorId: 'bn-old', provinceCode: '24', status: 'running', windowsTotal: 1 }]);
    expect(JSON.parse((await call('GET', '/backfills?connector=hcm-79')).text)).toEqual({ runs: [] });
  });

  it('lists only its province, a 2008 connector under its successor included', async () => {
    const listed = await call('GET', '/connectors?all=true');
    expect(listed.status).toBe(200);
    const ids = (JSON.parse(listed.text) as { connectors: { id: string }[] }).connectors.map(({ id }) => id);
    expect(ids).toEqual(['bn-24', 'bn-old']);
  });

  for (const foreign of ['hcm-79', 'bd-old']) {
    it(`answers every route for ${foreign} (another province) as for an unknown id, and changes nothing`, async () => {
      const before = await connectorsTable();
      const othersBefore = await otherTables();
      const unknown = `${'x'.repeat(foreign.length - 3)}-no`;
      for (const [route, request] of Object.entries(idRoutes)) {
        const [method, path, body] = request(foreign);
        const [unknownMethod, unknownPath, unknownBody] = request(unknown);
        const asForeign = await call(method, path, body);
        const asUnknown = await call(unknownMethod, unknownPath, unknownBody);
        expect(asForeign.status, route).toBe(404);
        // The same words apart from the connector id, or the row id (a letter, batch or key) the path names.
        const foreignRow = /\/(\d+)(?:\/|$)/.exec(path)?.[1];
        const unknownRowId = /\/(\d+)(?:\/|$)/.exec(unknownPath)?.[1];
        let text = asForeign.text.replaceAll(foreign, unknown);
        if (foreignRow) text = text.replace(new RegExp(`\\b${foreignRow}\\b`, 'g'), unknownRowId!);
        expect({ ...asForeign, text }, route).toEqual(asUnknown);
        expect(JSON.parse(asForeign.text), route).toMatchObject({ code: 'not_found' });
      }
      expect(await connectorsTable()).toEqual(before);
      expect(await otherTables()).toEqual(othersBefore);
    });
  }

  it("lists only its provinces' connectors' dead letters; a national key lists all", async () => {
    const ids = async (query: string, key = provinceKey) => {
      const listed = await call('GET', `/dead-letters${query}`, undefined, key);
      expect(listed.status, listed.text).toBe(200);
      return (JSON.parse(listed.text) as { deadLetters: { id: string }[] }).deadLetters.map(({ id }) => id);
    };
    expect(await ids('')).toEqual(['1001', '1002']);
    expect(await ids('?connector=bn-old')).toEqual(['1002']);
    expect(await ids('?connector=hcm-79')).toEqual([]);
    expect(await ids('', nationalKey)).toEqual(['1001', '1002', '1003', '1004']);
    const firstPage = JSON.parse((await call('GET', '/dead-letters?limit=1')).text) as {
      counts: { reason: string; count: number }[];
      nextCursor: string | null;
    };
    expect(firstPage).toMatchObject({ counts: [{ reason: 'invalid_record', count: 2 }], nextCursor: '1001' });
    expect(await ids('?limit=1&cursor=1001')).toEqual(['1002']);
    const shown = await call('GET', '/dead-letters/1002');
    expect(JSON.parse(shown.text)).toMatchObject({ id: '1002', connectorId: 'bn-old', rawPayload: { status: 99 } });
  });

  it('discards only its own letters and rotates its own secret, recorded under its id and name', async () => {
    const discarded = await call('POST', '/dead-letters/discard', { ids: ['1001', '1002', '1003', '1004'] });
    expect(JSON.parse(discarded.text)).toEqual({ discarded: 2 });
    const byConnector = await call('POST', '/dead-letters/discard', { connector: 'hcm-79' });
    expect(JSON.parse(byConnector.text)).toEqual({ discarded: 0 });
    const states = await env.db.selectFrom('dead_letters').select(['id', 'state']).orderBy('id').execute();
    expect(states.map(({ state }) => state)).toEqual(['discarded', 'discarded', 'new', 'new']);

    const rotated = await call('POST', '/connectors/bn-24/rotate-secret', { graceSeconds: 3600 });
    expect(rotated.status, rotated.text).toBe(201);
    expect(rotated.headers['cache-control']).toBe('no-store');
    const { secret } = JSON.parse(rotated.text) as { secret: string };
    expect(secret).toMatch(/^whsec_/);

    const audit = JSON.parse((await call('GET', '/audit')).text) as {
      events: { action: string; connectorId: string; actor: unknown; details: unknown }[];
    };
    const actor = { kind: 'api_key', id: provinceKey.id, name: 'Bắc Ninh IT team' };
    expect(audit.events.filter(({ action }) => /^(dead_letter|webhook_secret)\./.test(action))).toEqual([
      expect.objectContaining({ action: 'dead_letter.discard', connectorId: 'bn-24', actor }),
      expect.objectContaining({ action: 'dead_letter.discard', connectorId: 'bn-old', actor }),
      expect.objectContaining({ action: 'webhook_secret.rotate', connectorId: 'bn-24', actor }),
    ]);
    const rows = await env.db.selectFrom('audit_events').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(logLines.join('\n')).not.toContain(secret);
  });

  it("lists, shows, retries and discards only its provinces' failed batches, recorded under its id", async () => {
    const ids = async (query: string, key = provinceKey) => {
      const listed = await call('GET', `/failed-batches${query}`, undefined, key);
      expect(listed.status, listed.text).toBe(200);
      return (JSON.parse(listed.text) as { failedBatches: { id: string }[] }).failedBatches.map(({ id }) => id);
    };
    const own = [batchOf['bn-24']!, batchOf['bn-old']!];
    const all = Object.values(batchOf);
    expect(await ids('')).toEqual(own);
    expect(await ids('?connector=hcm-79')).toEqual([]);
    expect(await ids('?province=79')).toEqual([]);
    expect(await ids('', nationalKey)).toEqual(all);
    const firstPage = JSON.parse((await call('GET', '/failed-batches?limit=1')).text) as unknown;
    expect(firstPage).toMatchObject({ counts: [{ provinceCode: '24', count: 2 }], nextCursor: own[0] });
    expect(await ids(`?limit=1&cursor=${own[0]}`)).toEqual([own[1]]);
    const shown = JSON.parse((await call('GET', `/failed-batches/${own[1]}`)).text) as Record<string, unknown>;
    expect(shown).toMatchObject({ id: own[1], connectorId: 'bn-old', dossierCodes: ['B-bn-old'], unreadable: null });
    expect(shown).not.toHaveProperty('batch');

    const queue = new Queue(ingestQueueName('24'), {
      connection: createRedis(env.config.REDIS_URL),
      prefix: env.config.QUEUE_PREFIX,
    });
    try {
      const retried = await call('POST', '/failed-batches/retry', { ids: all });
      expect(JSON.parse(retried.text)).toEqual({ retried: 2, records: 2 });
      // On its province's ingest queue, as kept, for the writer.
      const jobs = await queue.getJobs(['waiting', 'delayed', 'prioritized']);
      expect(jobs.map((job) => (job.data as { connectorId: string }).connectorId).sort()).toEqual(['bn-24', 'bn-old']);
    } finally {
      await queue.close();
    }
    expect(JSON.parse((await call('POST', '/failed-batches/discard', { connector: 'hcm-79' })).text)).toEqual({
      discarded: 0,
    });
    expect(JSON.parse((await call('POST', '/failed-batches/discard', { allFailed: true })).text)).toEqual({
      discarded: 0,
    });
    const bad = await call('POST', '/failed-batches/retry', {});
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toMatchObject({ code: 'invalid_request' });
    const states = await env.db.selectFrom('failed_batches').select(['connector_id', 'state']).orderBy('id').execute();
    expect(states.map(({ state }) => state)).toEqual(['retried', 'retried', 'failed', 'failed']);

    const audit = JSON.parse((await call('GET', '/audit')).text) as { events: { action: string }[] };
    const actor = { kind: 'api_key', id: provinceKey.id, name: 'Bắc Ninh IT team' };
    expect(audit.events.filter(({ action }) => action.startsWith('failed_batch.'))).toEqual([
      expect.objectContaining({
        action: 'failed_batch.retry',
        connectorId: 'bn-24',
        actor,
        details: { failedBatches: 1, ids: [own[0]] },
      }),
      expect.objectContaining({
        action: 'failed_batch.retry',
        connectorId: 'bn-old',
        actor,
        details: { failedBatches: 1, ids: [own[1]] },
      }),
    ]);
  });

  it('sees, creates and revokes only keys bound to its provinces; the new key is shown once, never logged', async () => {
    const listed = async (key = provinceKey) =>
      (JSON.parse((await call('GET', '/api-keys', undefined, key)).text) as { apiKeys: { id: string }[] }).apiKeys.map(
        ({ id }) => id,
      );
    expect(await listed()).toEqual([provinceKey.id, keyOf['bn-24']!.id, keyOf['bn-old']!.id]);
    expect(await listed(nationalKey)).toEqual(
      [provinceKey.id, nationalKey.id, ...Object.values(keyOf).map(({ id }) => id)].sort(
        (a, b) => Number(a) - Number(b),
      ),
    );

    const before = await otherTables();
    const national = await call('POST', '/api-keys', { name: 'sneaky', scope: 'admin' });
    expect(national.status).toBe(403);
    expect(JSON.parse(national.text)).toMatchObject({
      code: 'forbidden',
      detail: `API key ${provinceKey.id} holds province 24 (Bắc Ninh) only; a key it creates must be bound to some of them`,
    });
    const wider = await call('POST', '/api-keys', { name: 'sneaky', scope: 'admin', provinces: ['24', '79'] });
    expect(wider.status).toBe(403);
    expect(JSON.parse(wider.text)).toMatchObject({ code: 'forbidden', detail: expect.stringMatching(/province 79/) });
    const former = await call('POST', '/api-keys', { name: 'x', scope: 'admin', provinces: ['27'] });
    expect(former.status).toBe(400);
    expect(former.text).toContain('27 is a former (2008) code, now part of 24');
    // The national key and one holding another province are unknown to it, as an unknown id.
    for (const id of [nationalKey.id, keyOf['bd-old']!.id]) {
      const revoke = await call('POST', `/api-keys/${id}/revoke`);
      expect(revoke.status).toBe(404);
      expect(revoke.text.replace(new RegExp(`\\b${id}\\b`, 'g'), unknownRow)).toEqual(
        (await call('POST', `/api-keys/${unknownRow}/revoke`)).text,
      );
    }
    expect(await otherTables()).toEqual(before);

    const created = await call('POST', '/api-keys', {
      name: ' Bắc Ninh portal ',
      scope: 'portal:read',
      provinces: ['24'],
    });
    expect(created.status, created.text).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    const { apiKey, key } = JSON.parse(created.text) as { apiKey: { id: string }; key: string };
    expect(apiKey).toMatchObject({ name: 'Bắc Ninh portal', scope: 'portal:read', provinces: ['24'], revokedAt: null });
    expect(key).toMatch(/^dsk_/);
    expect(
      (await fetch(`${gateway.url}/v1/provinces/24/stats`, { headers: { authorization: `Bearer ${key}` } })).status,
    ).not.toBe(401);

    const revoked = await call('POST', `/api-keys/${apiKey.id}/revoke`);
    expect(JSON.parse(revoked.text)).toMatchObject({
      apiKey: { id: apiKey.id, revokedAt: expect.any(String) },
      revoked: true,
    });
    const again = await call('POST', `/api-keys/${apiKey.id}/revoke`);
    expect(JSON.parse(again.text)).toMatchObject({ revoked: false });

    const events = (JSON.parse((await call('GET', '/audit')).text) as { events: Record<string, unknown>[] }).events;
    const actor = { kind: 'api_key', id: provinceKey.id, name: 'Bắc Ninh IT team' };
    expect(events.filter(({ apiKeyId }) => apiKeyId === apiKey.id)).toEqual([
      expect.objectContaining({
        action: 'api_key.create',
        actor,
        details: { name: 'Bắc Ninh portal', scope: 'portal:read', provinces: ['24'] },
      }),
      expect.objectContaining({ action: 'api_key.revoke', actor, details: { provinces: ['24'] } }),
    ]);
    const rows = await env.db.selectFrom('audit_events').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(key);
    expect(logLines.join('\n')).not.toContain(key);
  });

  it('refuses a definition naming another province with 403, naming only its own; nothing stored', async () => {
    const before = (await connectorsTable()).map((row) => (row.id === 'bd-old' ? { ...row, state: 'removed' } : row));
    const added = await call('POST', '/connectors', definition('hcm-new', '79'));
    expect(added.status).toBe(403);
    expect(JSON.parse(added.text)).toMatchObject({
      code: 'forbidden',
      detail: `API key ${provinceKey.id} holds province 24 (Bắc Ninh) only; the definition's province 79 is not among them`,
    });
    const former = await call('POST', '/connectors', definition('bd-new', '74', '2008'));
    expect(JSON.parse(former.text)).toMatchObject({
      code: 'forbidden',
      detail: `API key ${provinceKey.id} holds province 24 (Bắc Ninh) only; the definition's province 74 (2008 code set, now 79) is not among them`,
    });
    // Moving its own connector to another province is the same refusal.
    const moved = await call('PUT', '/connectors/bn-24', definition('bn-24', '79'));
    expect(moved.status).toBe(403);
    // An id another province uses is taken, without saying whose; a removed one cannot be taken over.
    const taken = await call('POST', '/connectors', definition('hcm-79', '24'));
    expect(taken.status).toBe(409);
    expect(JSON.parse(taken.text)).toMatchObject({
      code: 'conflict',
      detail: 'connector id hcm-79 is already taken; choose another id',
    });
    await env.db.updateTable('connectors').set({ state: 'removed' }).where('id', '=', 'bd-old').execute();
    const removed = await call('POST', '/connectors', definition('bd-old', '24'));
    expect(removed.status).toBe(409);
    expect(JSON.parse(removed.text)).toMatchObject({
      detail: 'connector id bd-old is already taken; choose another id',
    });
    expect(await connectorsTable()).toEqual(before);
  });

  it('operates its own province: add, show, update, pause, resume, check, status, remove', async () => {
    const added = await call('POST', '/connectors', definition('bn-new', '24'));
    expect(added.status).toBe(201);
    // bn-old's run is from the backfill test; one for bn-24 too, cancelled before a new one is started.
    const run = await insertBackfillRun(env.db, {
      connectorId: 'bn-24',
      provinceCode: '24',
      from: new Date('2026-10-01T00:00:00Z'),
      to: new Date('2026-10-02T00:00:00Z'),
      windowHours: 24,
      windowsTotal: 1,
      startedBy: 'cli:root',
    });
    runOf['bn-24'] = run!.id;
    for (const id of ['bn-24', 'bn-old']) {
      for (const [route, request] of Object.entries(idRoutes)) {
        const [method, path, body] = request(id);
        const answer = await call(
          method,
          path,
          id === 'bn-old' && method === 'PUT' ? definition(id, '27', '2008') : body,
        );
        const accepted = route.endsWith('/backfill') || route.endsWith('/reconcile');
        const expected = route.endsWith('/rotate-secret') ? 201 : accepted ? 202 : 200;
        expect(answer.status, `${route} ${id}: ${answer.text}`).toBe(expected);
      }
    }
    const states = await env.db.selectFrom('connectors').select(['id', 'state']).orderBy('id').execute();
    expect(states).toEqual([
      { id: 'bd-old', state: 'removed' },
      { id: 'bn-24', state: 'removed' },
      { id: 'bn-new', state: 'active' },
      { id: 'bn-old', state: 'removed' },
      { id: 'hcm-79', state: 'active' },
    ]);
  });
});
