import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { DeclarativeConnector } from '../../../connectors/declarative/declarative-connector.js';
import { declarativeConfig } from '../../../connectors/declarative/declarative-config.js';
import type { Cursor, ReadState } from '../../../connectors/sdk/connector.js';
import { VendorServer, vendorRecords, type VendorOptions, type VendorRecord } from './vendor-server.js';

// A poll run stops after its most pages; the cursor committed with the last page it read says where the walk
// goes on, so a new connector (another run, another process) carries it on there: no page read twice, none
// skipped, in every pagination style. The order of cursors only lets the committed one move forward.

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

function definition(url: string, style: VendorOptions['pagination'], extra: Record<string, unknown> = {}) {
  return declarativeConfig.parse({
    http: { baseUrl: url },
    request: { path: '/records', query: { since: '{{cursor}}', ...paginations[style].query } },
    pagination: paginations[style].pagination,
    records: { path: 'data.items' },
    fields: { dossierCode: 'code', status: 'state', sourceUpdatedAt: 'updatedAt' },
    statuses: { preset: 'english' },
    rateLimit: { requestsPerSecond: 1000 },
    ...extra,
  });
}

const connector = (config: ReturnType<typeof definition>) =>
  new DeclarativeConnector({ id: 'walk', sourceProvinceCode: '79', sourceCodeSet: '2025', config });

/**
 * Reads at most `pages` pages from the committed cursor, as a run does; the cursor comes back through JSON, as from
 * Postgres.
 */
async function run(source: DeclarativeConnector, committed: Cursor | null, pages = Infinity) {
  const codes: string[] = [];
  const cursors: Cursor[] = [];
  let state: ReadState | null = source.startFrom(committed);
  for (let read = 0; state !== null && read < pages; read++) {
    const page = await source.read(state);
    codes.push(...page.items.map((item) => (item as VendorRecord).code));
    cursors.push(JSON.parse(JSON.stringify(page.cursor)) as Cursor);
    state = page.next;
  }
  return { codes, cursors, last: cursors.at(-1) ?? committed, ended: state === null };
}

/** Every cursor after the one before it, and after the cursor the run started from. */
function expectForward(source: DeclarativeConnector, committed: Cursor | null, cursors: Cursor[]) {
  let before = committed;
  for (const cursor of cursors) {
    if (before !== null) expect(source.compareCursors(cursor, before)).toBeGreaterThan(0);
    if (before !== null) expect(source.compareCursors(before, cursor)).toBeLessThan(0);
    before = cursor;
  }
}

describe('a walk stopped after some pages goes on from the committed cursor', () => {
  const records = vendorRecords(50);
  for (const style of Object.keys(paginations) as VendorOptions['pagination'][]) {
    it(`${style}, without incremental`, async () => {
      server = new VendorServer({ records, pagination: style });
      const config = definition(await server.start(), style);
      const first = await run(connector(config), null, 3);
      expect(first.ended).toBe(false);
      expect(first.last).toHaveProperty('resume');

      // Another connector, as in another run or process: it starts where the first stopped.
      const rest = connector(config);
      const second = await run(rest, first.last);
      expect(second.codes[0]).toBe(records[21]!.code);
      expect([...first.codes, ...second.codes]).toEqual(records.map((record) => record.code));
      expectForward(rest, null, [...first.cursors, ...second.cursors]);
      // The walk ended: its last cursor holds no position; the next run begins a new walk, from the start.
      expect(second.last).not.toHaveProperty('resume');
      const again = await run(rest, second.last, 1);
      expect(again.codes[0]).toBe(records[0]!.code);
      expect(again.last).toMatchObject({ walk: 2, pages: 1 });
      expectForward(rest, second.last, again.cursors);
    });
  }

  it('an unsorted incremental source keeps its since-part until the walk ends, then takes the newest time of the whole walk', async () => {
    // Newest first: the newest update time is on the first page, the oldest on the last.
    const reversed = [...records].reverse();
    server = new VendorServer({ records: reversed, pagination: 'pageNumber' });
    const config = definition(await server.start(), 'pageNumber', {
      incremental: { cursorField: 'updatedAt', cursorFormat: 'yyyy-MM-ddTHH:mm:ss', sorted: false, lookbackSeconds: 0 },
    });
    const first = await run(connector(config), null, 2);
    expect(first.cursors.map((cursor) => (cursor as { since: unknown }).since)).toEqual([null, null]);
    const second = await run(connector(config), first.last);
    expect([...first.codes, ...second.codes]).toEqual(reversed.map((record) => record.code));
    // 2026-11-20T08:00:16 Vietnam time, the newest record, read by the first run.
    expect(second.last).toMatchObject({ since: '2026-11-20T01:00:16.000Z' });
    expect(second.last).not.toHaveProperty('resume');
  });

  it('a walk in time windows goes on in the window it stopped in', async () => {
    const hourly: VendorRecord[] = Array.from({ length: 20 }, (_, i) => ({
      code: `h${String(i).padStart(2, '0')}`,
      state: 'processing',
      updatedAt: `2026-11-20T${String(Math.floor(i / 2)).padStart(2, '0')}:${i % 2 === 0 ? '10' : '40'}:00`,
    }));
    server = new VendorServer({ records: hourly, pagination: 'pageNumber' });
    const config = definition(await server.start(), 'pageNumber', {
      request: {
        path: '/records',
        query: { since: '{{windowStart}}', until: '{{windowEnd}}', page: '{{page}}', size: '{{pageSize}}' },
      },
      pagination: { type: 'pageNumber', pageSize: 3, firstPage: 1 },
      incremental: {
        cursorField: 'updatedAt',
        cursorFormat: 'yyyy-MM-ddTHH:mm:ss',
        startDate: '2026-11-20',
        windowHours: 4,
        lookbackSeconds: 0,
      },
    });
    // Four pages: the three of the first window (8 records), and the first of the second.
    const first = await run(connector(config), null, 4);
    expect(first.codes).toHaveLength(11);
    const second = await run(connector(config), first.last);
    // The second run began at the second page of the second window: every record once, none read again.
    expect(second.codes.slice(0, 3)).toEqual(['h11', 'h12', 'h13']);
    expect([...first.codes, ...second.codes]).toEqual(hourly.map((record) => record.code));
  });
});

describe('cursors stored before walks were saved, and positions that no longer fit', () => {
  it('reads a stored {since} cursor as before: a new walk from the since-time minus the look-back, after it in order', async () => {
    server = new VendorServer({ records: vendorRecords(30), pagination: 'pageNumber' });
    const config = definition(await server.start(), 'pageNumber', {
      incremental: { cursorField: 'updatedAt', cursorFormat: 'yyyy-MM-ddTHH:mm:ss', lookbackSeconds: 2 },
    });
    const source = connector(config);
    const stored = { since: '2026-11-20T01:00:09.000Z' };
    const resumed = await run(source, stored);
    // 08:00:07 Vietnam time onwards: the look-back of 2 s before the stored time.
    expect(resumed.codes).toHaveLength(9);
    expect(resumed.last).toMatchObject({ since: '2026-11-20T01:00:09.000Z', walk: 1 });
    expectForward(source, stored, resumed.cursors);
    expect(source.compareCursors({ since: '2026-11-20T01:00:00.000Z' }, stored)).toBeLessThan(0);
    expect(source.compareCursors(stored, { since: '2026-11-20T01:00:09.000Z' })).toBe(0);
  });

  it('does not resume a position saved under other pagination settings: a new walk begins', async () => {
    const records = vendorRecords(50);
    server = new VendorServer({ records, pagination: 'pageNumber' });
    const url = await server.start();
    const first = await run(connector(definition(url, 'pageNumber')), null, 3);
    // Page 4 of pages of 7 is not page 4 of pages of 10.
    const changed = definition(url, 'pageNumber', { pagination: { type: 'pageNumber', pageSize: 10, firstPage: 1 } });
    const second = await run(connector(changed), first.last, 1);
    expect(second.codes[0]).toBe(records[0]!.code);
    expect(second.last).toMatchObject({ walk: 2, pages: 1 });
  });
});

describe('a saved next link', () => {
  let keyServer: Server | null = null;
  afterEach(async () => {
    await new Promise((resolve) => keyServer?.close(resolve));
    keyServer = null;
  });

  it('does not carry an API key sent in the query into the stored cursor, and still works', async () => {
    const seen: string[] = [];
    keyServer = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://loopback');
      seen.push(url.searchParams.getAll('apikey').join('|'));
      const after = Number(url.searchParams.get('after') ?? 0);
      const items =
        after < 4
          ? [
              { code: `k${after}`, state: 'done' },
              { code: `k${after + 1}`, state: 'done' },
            ]
          : [];
      response.writeHead(200, { 'content-type': 'application/json' });
      // The vendor echoes the key in its next links.
      response.end(
        JSON.stringify({
          data: { items },
          links: { next: items.length ? `/records?apikey=${url.searchParams.get('apikey')}&after=${after + 2}` : null },
        }),
      );
    });
    await new Promise<void>((resolve) => keyServer!.listen(0, '127.0.0.1', resolve));
    process.env.TEST_WALK_API_KEY = 'k-secret-123';
    const config = definition(`http://127.0.0.1:${(keyServer.address() as { port: number }).port}`, 'nextLinkBody', {
      auth: { type: 'apiKey', in: 'query', name: 'apikey', key: { env: 'TEST_WALK_API_KEY' } },
      request: { path: '/records', query: {} },
    });
    const first = await run(connector(config), null, 1);
    expect(JSON.stringify(first.last)).not.toContain('k-secret-123');
    const second = await run(connector(config), first.last);
    expect([...first.codes, ...second.codes]).toEqual(['k0', 'k1', 'k2', 'k3']);
    // The resumed request carried the key once, from the connector's auth.
    expect(seen[1]).toBe('k-secret-123');
  });
});
