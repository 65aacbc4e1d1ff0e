import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  NationalRestConnector,
  nationalRestConfig,
} from '../../../connectors/national-rest/national-rest-connector.js';
import { nationalRecord } from './national-record.js';
import { startProvinceServer, type ProvinceServer } from './province-server.js';
import { checkOnce } from '../check-once.js';

const keyVariable = 'DOSSIER_SYNC_TEST_READ_API_KEY';
const apiKey = 'k-read-7f3a9c1e5b';

let server: ProvinceServer;

beforeAll(async () => {
  process.env[keyVariable] = apiKey;
  server = await startProvinceServer();
});

afterAll(async () => {
  delete process.env[keyVariable];
  await server.close();
});

afterEach(() => {
  server.requests.length = 0;
});

function connector(config: Record<string, unknown> = {}): NationalRestConnector {
  return new NationalRestConnector({
    id: 'hcm-rest',
    sourceProvinceCode: '79',
    sourceCodeSet: '2025',
    config: nationalRestConfig.parse({ baseUrl: server.url, apiKey: { env: keyVariable }, pageSize: 2, ...config }),
  });
}

describe('NationalRestConnector.read pages through the source with a keyset cursor', () => {
  it('the first read sends province and limit, and no position', async () => {
    server.answer({ status: 200, body: { items: [], hasMore: false } });
    await connector().read(null);
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request!.path).toBe('/api/dossiers');
    expect(request!.query.get('province')).toBe('79');
    expect(request!.query.get('limit')).toBe('2');
    expect(request!.query.has('updatedSince')).toBe(false);
    expect(request!.query.has('afterCode')).toBe(false);
  });

  it('a read after a cursor sends updatedSince and afterCode', async () => {
    server.answer({ status: 200, body: { items: [], hasMore: false } });
    await connector({ pageSize: 500 }).read({ updatedSince: '20261127080000', afterCode: 'H56-0002' });
    const query = server.requests[0]!.query;
    expect(Object.fromEntries(query)).toEqual({
      province: '79',
      limit: '500',
      updatedSince: '20261127080000',
      afterCode: 'H56-0002',
    });
  });

  it('a cursor without afterCode sends only updatedSince', async () => {
    server.answer({ status: 200, body: { items: [], hasMore: false } });
    await connector().read({ updatedSince: '20261127075800', afterCode: null });
    const query = server.requests[0]!.query;
    expect(query.get('updatedSince')).toBe('20261127075800');
    expect(query.has('afterCode')).toBe(false);
  });

  it('returns the items, the next keyset from the last item, and the keyset to carry the walk on at', async () => {
    const items = [
      nationalRecord({ MaHoSo: 'H56-0001', NgayCapNhat: '20261127080000' }),
      nationalRecord({ MaHoSo: 'H56-0002', NgayCapNhat: '20261127080500' }),
    ];
    server.answer({ status: 200, body: { items, hasMore: true } });
    const page = await connector().read(null);
    expect(page.items).toEqual(items);
    const last = { updatedSince: '20261127080500', afterCode: 'H56-0002' };
    expect(page.cursor).toMatchObject({ ...last, resume: last });
    expect(page.next).toMatchObject(last);
  });

  it('pages on from the last record with a keyset when the page ends with a malformed one', async () => {
    const items = [
      nationalRecord({ MaHoSo: 'H56-0001', NgayCapNhat: '20261127080000' }),
      { ...nationalRecord({ MaHoSo: 'H56-0002' }), NgayCapNhat: 20261127 },
    ];
    server.answer({ status: 200, body: { items, hasMore: true } });
    const page = await connector().read(null);
    expect(page.next).toMatchObject({ updatedSince: '20261127080000', afterCode: 'H56-0001' });
  });

  it('says so, rather than ending the walk, when a page with more after it has no record to page on from', async () => {
    server.answer({ status: 200, body: { items: [{ MaHoSo: 7 }], hasMore: true } });
    await expect(connector().read(null)).rejects.toThrow(
      /connector hcm-rest: GET \/api\/dossiers answered a page with more after it, but no record of it has NgayCapNhat and MaHoSo as text/,
    );
  });

  it('an empty page keeps the keyset it was given and has no more: the walk ends', async () => {
    const cursor = { updatedSince: '20261127080500', afterCode: 'H56-0002' };
    server.answer({ status: 200, body: { items: [], hasMore: true } });
    const page = await connector().read(cursor);
    expect(page).toMatchObject({ items: [], cursor, next: null });
    expect(page.cursor).not.toHaveProperty('resume');
  });

  it('sends the API key its apiKey reference names as X-Api-Key', async () => {
    server.answer({ status: 200, body: { items: [], hasMore: false } });
    await connector().read(null);
    expect(server.requests[0]!.headers['x-api-key']).toBe(apiKey);
  });

  it('sends no X-Api-Key without apiKey', async () => {
    server.answer({ status: 200, body: { items: [], hasMore: false } });
    await connector({ apiKey: undefined }).read(null);
    expect(server.requests[0]!.headers['x-api-key']).toBeUndefined();
  });

  it('map hands each item to the national mapper', async () => {
    server.answer({
      status: 200,
      body: { items: [nationalRecord({ MaHoSo: 'H56-0009', TrangThaiHoSo: '9' })], hasMore: false },
    });
    const source = connector();
    const page = await source.read(null);
    expect(source.map(page.items[0])).toMatchObject({ dossierCode: 'H56-0009', status: 9 });
  });

  it('check reads one page and reports what would be stored and dead-lettered', async () => {
    server.answer({
      status: 200,
      body: {
        items: [nationalRecord({ MaHoSo: 'A' }), nationalRecord({ MaHoSo: 'B', TrangThaiHoSo: '99' })],
        hasMore: true,
      },
    });
    const report = await checkOnce(connector());
    expect(report).toMatchObject({
      ok: true,
      recordsRead: 2,
      hasMore: true,
      stored: { count: 1 },
      deadLettered: { count: 1, byReason: [{ reason: 'unknown_status', count: 1 }] },
    });
  });
});
