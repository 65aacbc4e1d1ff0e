import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshProvinceStats } from '../../../db/queries/refresh-province-stats.js';
import { upsertDossiers } from '../../../db/queries/upsert-dossiers.js';
import { createApiKey } from '../../../workers/control-plane/api-key-store.js';
import { startReadApi, testClock, type ReadApiServer } from '../../support/read-api.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, type TestEnvironment } from '../../support/test-environment.js';
import { cliActor } from '../../../workers/control-plane/audit.js';

// The read API with a portal:read key bound to provinces 24 and 48: the feed (with or without province=) holds only
// their dossiers; another province's dossier is answered as one that does not exist, in the same words; asking for
// another province by name (feed province=, its stats) is 403 naming only the key's own provinces; /v1/stats has only
// its rows and their sums.

let env: TestEnvironment;
let api: ReadApiServer;
let boundKey: { id: string; key: string };
const clock = testClock('2026-12-01T05:00:00Z');

const asBound = (path: string) =>
  fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${boundKey.key}` }, redirect: 'manual' });

async function json(response: Response) {
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  env = await createTestEnvironment();
  api = await startReadApi(env.db, { clock: clock.read });
  boundKey = await createApiKey(env.db, 'Bắc Ninh & Đà Nẵng portal', 'portal:read', {
    actor: cliActor(),
    provinces: ['24', '48'],
  });
  const codes = ['01', '24', '48', '79'];
  await upsertDossiers(
    env.db,
    codes.map((code) => dossierRecord({ provinceCode: code, sourceProvinceCode: code, dossierCode: `${code}.A` })),
  );
  // Synced in the past, so no open transaction holds the feed's horizon back.
  await sql`UPDATE dossiers SET synced_at = now() - interval '1 minute'`.execute(env.db);
  for (const code of codes) await refreshProvinceStats(env.db, code, { connectorIds: ['test'], force: true });
});
afterAll(async () => {
  await api?.close();
  await env?.cleanup();
});

describe('a portal:read key bound to provinces 24 and 48', () => {
  it('gets only its provinces in the feed, with or without province=', async () => {
    const all = await json(await asBound('/v1/dossiers'));
    expect(all.status).toBe(200);
    expect((all.body.items as { provinceCode: string }[]).map((item) => item.provinceCode)).toEqual(['24', '48']);
    const own = await json(await asBound('/v1/dossiers?province=48'));
    expect((own.body.items as { dossierCode: string }[]).map((item) => item.dossierCode)).toEqual(['48.A']);
    // The national key sees all four.
    const national = (await (await api.get('/v1/dossiers')).json()) as { items: unknown[] };
    expect(national.items).toHaveLength(4);
  });

  it("answers another province's dossier as an unknown one, in the same words", async () => {
    expect((await asBound('/v1/dossiers/24/24.A')).status).toBe(200);
    const other = await asBound('/v1/dossiers/79/79.A');
    const unknown = await asBound('/v1/dossiers/79/79.Z');
    expect(other.status).toBe(404);
    const { date: _a, ...otherHeaders } = Object.fromEntries(other.headers);
    const { date: _b, ...unknownHeaders } = Object.fromEntries(unknown.headers);
    expect(otherHeaders).toEqual(unknownHeaders);
    expect((await other.text()).replaceAll('79.A', '79.Z')).toBe(await unknown.text());
  });

  it('is refused another province by name with 403, told only its own provinces', async () => {
    const detail = `API key ${boundKey.id} holds provinces 24 (Bắc Ninh), 48 (Đà Nẵng) only; province 79 (Hồ Chí Minh) is not among them`;
    for (const path of ['/v1/dossiers?province=79', '/v1/provinces/79/stats']) {
      const answer = await json(await asBound(path));
      expect(answer, path).toMatchObject({ status: 403, body: { code: 'forbidden', detail } });
    }
    expect((await asBound('/v1/provinces/24/stats')).status).toBe(200);
  });

  it('gets only its rows in /v1/stats, and their sums as the total', async () => {
    const bound = (await (await asBound('/v1/stats')).json()) as {
      national: { dossiers: unknown };
      provinces: { provinceCode: string }[];
    };
    const national = (await (await api.get('/v1/stats')).json()) as typeof bound;
    expect(bound.provinces.map((row) => row.provinceCode)).toEqual(['24', '48']);
    expect(bound.provinces).toEqual(national.provinces.filter((row) => ['24', '48'].includes(row.provinceCode)));
    expect(national.provinces).toHaveLength(34);
    expect(bound.national).not.toEqual(national.national);
  });
});
