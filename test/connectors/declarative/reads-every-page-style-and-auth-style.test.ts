import { afterEach, describe, expect, it } from 'vitest';
import { DeclarativeConnector } from '../../../connectors/declarative/declarative-connector.js';
import { declarativeConfig } from '../../../connectors/declarative/declarative-config.js';
import type { ReadableConnector, ReadState } from '../../../connectors/sdk/connector.js';
import { mapItems } from '../../../connectors/sdk/normalise.js';
import { VendorServer, vendorRecords, type VendorOptions } from './vendor-server.js';
import { checkOnce } from '../check-once.js';

let server: VendorServer | null = null;
afterEach(async () => {
  await server?.stop();
  server = null;
});

const paginations: Record<VendorOptions['pagination'], { query: Record<string, string>; pagination: unknown }> = {
  pageNumber: {
    query: { page: '{{page}}', size: '{{pageSize}}' },
    pagination: { type: 'pageNumber', pageSize: 7, firstPage: 1 },
  },
  offset: { query: { offset: '{{offset}}', size: '{{limit}}' }, pagination: { type: 'offset', pageSize: 7 } },
  nextLinkBody: {
    query: { size: '{{pageSize}}' },
    pagination: { type: 'nextLink', from: 'body', path: 'links.next', pageSize: 7 },
  },
  nextLinkHeader: {
    query: { size: '{{pageSize}}' },
    pagination: { type: 'nextLink', from: 'linkHeader', pageSize: 7 },
  },
  cursorToken: {
    query: { size: '{{pageSize}}', token: '{{token}}' },
    pagination: { type: 'cursorToken', path: 'next', pageSize: 7 },
  },
};

function connector(
  url: string,
  style: VendorOptions['pagination'],
  auth: unknown = { type: 'none' },
  extra: Record<string, unknown> = {},
): DeclarativeConnector {
  const config = declarativeConfig.parse({
    http: { baseUrl: url },
    auth,
    request: { path: '/records', query: { since: '{{cursor}}', ...paginations[style].query } },
    pagination: paginations[style].pagination,
    incremental: { cursorField: 'updatedAt', cursorFormat: 'yyyy-MM-ddTHH:mm:ss', lookbackSeconds: 0 },
    records: { path: 'data.items' },
    fields: { dossierCode: 'code', status: 'state', dueAt: { path: 'dueAt', format: 'dd/MM/yyyy HH:mm:ss' } },
    statuses: { preset: 'english' },
    rateLimit: { requestsPerSecond: 1000 },
    ...extra,
  });
  return new DeclarativeConnector({ id: 'test', sourceProvinceCode: '79', sourceCodeSet: '2025', config });
}

/** Reads a whole run, as the poller does, and returns every item's code. */
async function readRun(source: ReadableConnector, between?: () => Promise<void>): Promise<string[]> {
  const codes: string[] = [];
  let state: ReadState | null = source.startFrom(null);
  while (state !== null) {
    const page = await source.read(state);
    codes.push(...page.items.map((item) => (item as { code: string }).code));
    state = page.next;
    if (state !== null) await between?.();
  }
  return codes;
}

describe('every pagination style reads every record exactly once', () => {
  const records = vendorRecords(50);
  for (const style of Object.keys(paginations) as VendorOptions['pagination'][]) {
    it(style, async () => {
      server = new VendorServer({ records, pagination: style });
      const codes = await readRun(connector(await server.start(), style));
      expect(codes).toEqual(records.map((record) => record.code));
    });
  }
});

describe('every auth style is sent as the definition says', () => {
  const records = vendorRecords(20);
  const styles: [string, VendorOptions['auth'], unknown, Record<string, string>][] = [
    [
      'api key in a header',
      { type: 'apiKeyHeader', name: 'X-Api-Key', key: 'k-123' },
      { type: 'apiKey', in: 'header', name: 'X-Api-Key', key: { env: 'TEST_VENDOR_KEY' } },
      { TEST_VENDOR_KEY: 'k-123' },
    ],
    [
      'api key in the query',
      { type: 'apiKeyQuery', name: 'apikey', key: 'k-456' },
      { type: 'apiKey', in: 'query', name: 'apikey', key: { env: 'TEST_VENDOR_KEY' } },
      { TEST_VENDOR_KEY: 'k-456' },
    ],
    [
      'bearer token',
      { type: 'bearer', token: 'tok-789' },
      { type: 'bearer', token: { env: 'TEST_VENDOR_TOKEN' } },
      { TEST_VENDOR_TOKEN: 'tok-789' },
    ],
    [
      'basic',
      { type: 'basic', username: 'sync', password: 'p@ss:w/rd' },
      { type: 'basic', username: 'sync', password: { env: 'TEST_VENDOR_PASSWORD' } },
      { TEST_VENDOR_PASSWORD: 'p@ss:w/rd' },
    ],
    [
      'OAuth2 client credentials',
      { type: 'oauth2', clientId: 'sync', clientSecret: 's3cret', ttlSeconds: 300 },
      {
        type: 'oauth2ClientCredentials',
        tokenUrl: '/oauth/token',
        clientId: 'sync',
        clientSecret: { env: 'TEST_VENDOR_SECRET' },
      },
      { TEST_VENDOR_SECRET: 's3cret' },
    ],
  ];
  for (const [name, vendorAuth, auth, env] of styles) {
    it(name, async () => {
      Object.assign(process.env, env);
      server = new VendorServer({ records, pagination: 'pageNumber', auth: vendorAuth });
      const codes = await readRun(connector(await server.start(), 'pageNumber', auth));
      expect(codes).toHaveLength(20);
      expect(server.seen.rejected).toBe(0);
    });
  }

  const oauth = {
    type: 'oauth2ClientCredentials',
    tokenUrl: '/oauth/token',
    clientId: 'sync',
    clientSecret: { env: 'TEST_VENDOR_SECRET' },
    refreshBeforeSeconds: 0,
  };

  it('renews an OAuth2 token before it expires in the middle of a sync', async () => {
    process.env.TEST_VENDOR_SECRET = 's3cret';
    server = new VendorServer({
      records,
      pagination: 'pageNumber',
      auth: { type: 'oauth2', clientId: 'sync', clientSecret: 's3cret', ttlSeconds: 1 },
    });
    const codes = await readRun(
      connector(await server.start(), 'pageNumber', oauth),
      () => new Promise((resolve) => setTimeout(resolve, 1100)),
    );
    expect(codes).toHaveLength(20);
    expect(server.seen.tokensIssued).toBeGreaterThanOrEqual(2);
    expect(server.seen.rejected).toBe(0);
  });

  it('fetches a new OAuth2 token when the system refuses one that expired early', async () => {
    process.env.TEST_VENDOR_SECRET = 's3cret';
    server = new VendorServer({
      records,
      pagination: 'pageNumber',
      auth: { type: 'oauth2', clientId: 'sync', clientSecret: 's3cret', ttlSeconds: 1, advertisedTtlSeconds: 3600 },
    });
    const codes = await readRun(
      connector(await server.start(), 'pageNumber', oauth),
      () => new Promise((resolve) => setTimeout(resolve, 1100)),
    );
    expect(codes).toHaveLength(20);
    expect(server.seen.rejected).toBeGreaterThanOrEqual(1);
    expect(server.seen.tokensIssued).toBe(server.seen.rejected + 1);
  });

  it('reports refused client credentials without the secret', async () => {
    process.env.TEST_VENDOR_SECRET = 'not-the-secret';
    server = new VendorServer({
      records,
      pagination: 'pageNumber',
      auth: { type: 'oauth2', clientId: 'sync', clientSecret: 's3cret', ttlSeconds: 60 },
    });
    const report = await checkOnce(connector(await server.start(), 'pageNumber', oauth));
    expect(report.ok).toBe(false);
    expect(report.message).toMatch(
      /the token endpoint refused the client credentials \(HTTP 401\); check auth\.clientId/,
    );
    expect(report.message).not.toContain('not-the-secret');
  });

  it('reports a wrong password as an actionable error without the password, and does not retry it', async () => {
    process.env.TEST_VENDOR_PASSWORD = 'wrong-password';
    server = new VendorServer({
      records,
      pagination: 'pageNumber',
      auth: { type: 'basic', username: 'sync', password: 'right' },
    });
    const report = await checkOnce(
      connector(await server.start(), 'pageNumber', {
        type: 'basic',
        username: 'sync',
        password: { env: 'TEST_VENDOR_PASSWORD' },
      }),
    );
    expect(report.ok).toBe(false);
    expect(report.message).toMatch(/answered HTTP 401; check the credentials configured for this connector/);
    expect(report.message).not.toContain('wrong-password');
    expect(server.seen.requests).toBe(1);
  });
});

describe('incremental reads', () => {
  it('resumes from the newest committed update time minus the look-back, and maps dates in Vietnam time', async () => {
    const records = vendorRecords(30);
    server = new VendorServer({ records, pagination: 'pageNumber' });
    const url = await server.start();
    const source = connector(
      url,
      'pageNumber',
      { type: 'none' },
      { incremental: { cursorField: 'updatedAt', cursorFormat: 'yyyy-MM-ddTHH:mm:ss', lookbackSeconds: 2 } },
    );
    let state: ReadState | null = source.startFrom(null);
    let cursor: unknown = null;
    while (state !== null) {
      const page = await source.read(state);
      cursor = page.cursor;
      state = page.next;
    }
    // The newest record is 2026-11-20T08:00:09 Vietnam time = 01:00:09 UTC.
    expect(cursor).toMatchObject({ since: '2026-11-20T01:00:09.000Z' });
    // The walk read its last page: the next run begins a new one, from the since-part minus the look-back.
    expect(cursor).not.toHaveProperty('resume');
    const resumed: { updatedAt: string }[] = [];
    for (let again: ReadState | null = source.startFrom(cursor as never); again !== null;) {
      const page = await source.read(again);
      resumed.push(...(page.items as { updatedAt: string }[]));
      again = page.next;
    }
    expect(resumed.every((item) => item.updatedAt >= '2026-11-20T08:00:07')).toBe(true);
    expect(resumed.length).toBe(9);

    const { records: mapped, deadLetters } = mapItems(source, records.slice(0, 3), {
      connectorId: 'test',
      sourceProvinceCode: '79',
      sourceCodeSet: '2025',
      observedAt: new Date(),
    });
    expect(deadLetters).toEqual([]);
    expect(mapped[0]).toMatchObject({
      status: 4,
      dueAt: '2026-12-20T10:00:00.000Z',
      sourceUpdatedAt: '2026-11-20T01:00:00.000Z',
    });
    expect(JSON.stringify(mapped)).not.toContain('Bình');
  });

  it('says so when records.path leads nowhere', async () => {
    server = new VendorServer({ records: vendorRecords(3), pagination: 'pageNumber' });
    const report = await checkOnce(
      connector(await server.start(), 'pageNumber', { type: 'none' }, { records: { path: 'data.rows' } }),
    );
    expect(report).toMatchObject({
      ok: false,
      message: expect.stringMatching(
        /records\.path "data\.rows" does not lead to a list in the response: data has no "rows" \(its keys: items\)/,
      ),
    });
  });

  it('says so when the base URL is wrong', async () => {
    const report = await checkOnce(connector('http://127.0.0.1:9', 'pageNumber'));
    expect(report.ok).toBe(false);
    expect(report.message).toMatch(/no answer from the province system \(ECONNREFUSED\); check the base URL/);
  });
});
