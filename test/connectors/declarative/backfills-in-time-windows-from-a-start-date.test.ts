import { afterEach, expect, it } from 'vitest';
import { DeclarativeConnector } from '../../../connectors/declarative/declarative-connector.js';
import { declarativeConfig } from '../../../connectors/declarative/declarative-config.js';
import type { ReadState } from '../../../connectors/sdk/connector.js';
import { VendorServer, type VendorRecord } from './vendor-server.js';

let server: VendorServer | null = null;
afterEach(async () => server?.stop());

// Two records an hour over ten hours of 20 November (Vietnam time), one before the start date.
const records: VendorRecord[] = [
  { code: 'early', state: 'done', updatedAt: '2026-11-19T23:00:00' },
  ...Array.from({ length: 20 }, (_, i) => ({
    code: `h${String(i).padStart(2, '0')}`,
    state: 'processing',
    updatedAt: `2026-11-20T${String(Math.floor(i / 2)).padStart(2, '0')}:${i % 2 === 0 ? '10' : '40'}:00`,
  })),
];

async function readAll(source: DeclarativeConnector, from: ReadState | null) {
  const codes: string[] = [];
  let cursor: unknown = null;
  for (let state = from; state !== null;) {
    const page = await source.read(state);
    codes.push(...page.items.map((item) => (item as VendorRecord).code));
    cursor = page.cursor;
    state = page.next;
  }
  return { codes, cursor };
}

it('walks windows of windowHours from the start date, filtering with {{windowStart}} and {{windowEnd}}', async () => {
  server = new VendorServer({ records, pagination: 'pageNumber' });
  const config = declarativeConfig.parse({
    http: { baseUrl: await server.start() },
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
    records: { path: 'data.items' },
    fields: { dossierCode: 'code', status: 'state' },
    statuses: { preset: 'english' },
    rateLimit: { requestsPerSecond: 1000 },
  });
  const source = new DeclarativeConnector({ id: 'windows', sourceProvinceCode: '79', sourceCodeSet: '2025', config });
  const { codes, cursor } = await readAll(source, source.startFrom(null));

  // Every record from the start date on, once, in order; nothing before it.
  expect(codes).toEqual(records.slice(1).map((record) => record.code));
  // Windows of four hours from midnight of the start date, Vietnam time.
  expect([...server.seen.windows].slice(0, 3)).toEqual([
    '2026-11-20T00:00:00..2026-11-20T04:00:00',
    '2026-11-20T04:00:00..2026-11-20T08:00:00',
    '2026-11-20T08:00:00..2026-11-20T12:00:00',
  ]);
  // The cursor ends past the last window read; a later run resumes from it.
  expect(Date.parse((cursor as { since: string }).since)).toBeGreaterThanOrEqual(Date.parse('2026-11-20T02:40:00Z'));
});

it('reads one more second before an exclusive cursor, so ties at the cursor time are not lost', async () => {
  server = new VendorServer({ records, pagination: 'pageNumber' });
  const config = declarativeConfig.parse({
    http: { baseUrl: await server.start() },
    request: { path: '/records', query: { since: '{{cursor}}', page: '{{page}}', size: '{{pageSize}}' } },
    pagination: { type: 'pageNumber', pageSize: 50, firstPage: 1 },
    incremental: {
      cursorField: 'updatedAt',
      cursorFormat: 'yyyy-MM-ddTHH:mm:ss',
      inclusive: false,
      lookbackSeconds: 0,
    },
    records: { path: 'data.items' },
    fields: { dossierCode: 'code', status: 'state' },
    statuses: { preset: 'english' },
  });
  const source = new DeclarativeConnector({ id: 'exclusive', sourceProvinceCode: '79', sourceCodeSet: '2025', config });
  // Committed at 09:40 Vietnam time (02:40 UTC): the request asks from 09:39:59.
  await readAll(source, source.startFrom({ since: '2026-11-20T02:40:00.000Z' }));
  expect([...server.seen.windows]).toEqual(['2026-11-20T09:39:59..']);
});
