import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DossierRecord } from '../../../connectors/sdk/dossier-record.js';
import type { DossierStatus } from '../../../connectors/sdk/dossier-status.js';
import { upsertDossiers } from '../../../db/queries/upsert-dossiers.js';
import type { DossierSummaryView } from '../../../workers/http/read/dossier-view.js';
import { startReadApi, testClock, type ReadApiServer } from '../../support/read-api.js';
import { dossierRecord } from '../../support/records.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../../support/test-environment.js';

// GET /v1/dossiers against a real server and Postgres: keyset pages in (syncedAt, provinceCode, dossierCode) order,
// the filters, the limit, items with the canonical summary and nothing else, a cursor that is always given, and the
// problems of a wrong, damaged or expired cursor.

let env: TestEnvironment;
let api: ReadApiServer;
const clock = testClock('2026-12-01T05:00:00Z');

beforeAll(async () => {
  env = await createTestEnvironment();
  api = await startReadApi(env.db, { clock: clock.read, feedCursorMaxAgeDays: 30 });
});
afterAll(async () => {
  await api?.close();
  await env?.cleanup();
});
beforeEach(async () => {
  await sql`TRUNCATE dossiers, dossier_events`.execute(env.db);
  clock.set('2026-12-01T05:00:00Z');
});

interface Page {
  items: DossierSummaryView[];
  nextCursor: string;
  hasMore: boolean;
  horizon: string;
}

async function feed(query: string): Promise<Page> {
  const response = await api.get(`/v1/dossiers${query}`);
  const body = (await response.json()) as Page & { detail?: string };
  expect(response.status, body.detail).toBe(200);
  expect(response.headers.get('cache-control')).toBe('no-store');
  return body;
}

async function expectProblem(query: string, status: number, code: string, detail: RegExp) {
  const response = await api.get(`/v1/dossiers${query}`);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = (await response.json()) as { code: string; detail: string };
  expect({ status: response.status, code: body.code }).toEqual({ status, code });
  expect(body.detail).toMatch(detail);
  return body;
}

/** Stores dossiers, each synced at the given time (in the past, so no open transaction holds the feed back). */
async function stored(...dossiers: [Partial<DossierRecord>, string][]) {
  await upsertDossiers(
    env.db,
    dossiers.map(([fields]) => dossierRecord({ sourceStatus: String(fields.status ?? 2), ...fields })),
  );
  for (const [fields, syncedAt] of dossiers)
    await sql`UPDATE dossiers SET synced_at = ${syncedAt}::timestamptz
      WHERE province_code = ${fields.provinceCode ?? '01'} AND dossier_code = ${fields.dossierCode!}`.execute(env.db);
}

const keys = (page: Page) => page.items.map((item) => `${item.provinceCode}/${item.dossierCode}`);
const cursorOf = (text: string) =>
  JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('the change feed', () => {
  it('pages in (syncedAt, provinceCode, dossierCode) order and always gives a cursor to go on from', async () => {
    await stored(
      [{ provinceCode: '79', dossierCode: 'B', status: 4 }, '2026-11-30T00:00:00.000002Z'],
      [{ provinceCode: '01', dossierCode: 'B', status: 4 }, '2026-11-30T00:00:00.000001Z'],
      [{ provinceCode: '01', dossierCode: 'A', status: 4 }, '2026-11-30T00:00:00.000001Z'],
      [{ provinceCode: '48', dossierCode: 'A', status: 4 }, '2026-11-30T00:00:00.000001Z'],
      [{ provinceCode: '01', dossierCode: 'C', status: 4 }, '2026-11-29T23:59:59Z'],
    );
    const first = await feed('?limit=2');
    expect(keys(first)).toEqual(['01/C', '01/A']);
    expect(first.hasMore).toBe(true);
    expect(first.items[1]!.syncedAt).toBe('2026-11-30T00:00:00.000001Z');
    const second = await feed(`?limit=2&cursor=${first.nextCursor}`);
    expect(keys(second)).toEqual(['01/B', '48/A']);
    expect(second.hasMore).toBe(true);
    const third = await feed(`?limit=2&cursor=${second.nextCursor}`);
    expect(keys(third)).toEqual(['79/B']);
    expect(third.hasMore).toBe(false);
    expect(typeof third.nextCursor).toBe('string');
    const idle = await feed(`?limit=2&cursor=${third.nextCursor}`);
    expect(idle.items).toEqual([]);
    expect(idle.hasMore).toBe(false);

    // A change written now shows up at the cursor once no write before it can still be in progress.
    await upsertDossiers(env.db, [dossierRecord({ dossierCode: 'A', status: 5, sourceStatus: '5', sourceVersion: 2 })]);
    let latest: Page | undefined;
    await waitFor(
      async () => (latest = await feed(`?limit=2&cursor=${third.nextCursor}`)).items.length > 0,
      'the new change in the feed',
      30_000,
      100,
    );
    expect(keys(latest!)).toEqual(['01/A']);
    expect(latest!.items[0]!.status).toMatchObject({ code: 5, label: 'Yêu cầu bổ sung giấy tờ' });
    expect(Date.parse(latest!.items[0]!.syncedAt)).toBeLessThan(Date.parse(latest!.horizon));
  });

  it('gives each item exactly the canonical summary: no field beyond the allowed ones', async () => {
    await stored([
      { dossierCode: 'A', altDossierCode: 'A2', finishedAt: '2026-11-29T01:00:00.000Z' },
      '2026-11-30T00:00:00Z',
    ]);
    const [item] = (await feed('')).items;
    expect(Object.keys(item!).sort()).toEqual(
      [
        'provinceCode',
        'dossierCode',
        'altDossierCode',
        'sourceProvinceCode',
        'sourceCodeSet',
        'procedureCode',
        'sectorCode',
        'agencyCode',
        'channel',
        'status',
        'submittedAt',
        'receivedAt',
        'dueAt',
        'finishedAt',
        'returnedAt',
        'rejectedAt',
        'sourceUpdatedAt',
        'sourceVersion',
        'syncedAt',
      ].sort(),
    );
    expect(Object.keys(item!.status).sort()).toEqual(['code', 'group', 'label', 'meaning']);
    expect(item).toMatchObject({ altDossierCode: 'A2', finishedAt: '2026-11-29T01:00:00.000Z', sourceVersion: 1 });
  });

  it('filters by current province, by one or several statuses, and by synced time (inclusive, to the microsecond)', async () => {
    await stored(
      [{ provinceCode: '01', dossierCode: 'A', status: 4 }, '2026-11-30T01:00:00.000001Z'],
      [{ provinceCode: '01', dossierCode: 'B', status: 5 }, '2026-11-30T01:00:00.000002Z'],
      [{ provinceCode: '01', dossierCode: 'C', status: 9 as DossierStatus }, '2026-11-30T01:00:00.000003Z'],
      [{ provinceCode: '79', dossierCode: 'D', status: 4 }, '2026-11-30T01:00:00.000004Z'],
    );
    expect(keys(await feed('?province=79'))).toEqual(['79/D']);
    expect(keys(await feed('?status=4'))).toEqual(['01/A', '79/D']);
    expect(keys(await feed('?status=4,5&province=01'))).toEqual(['01/A', '01/B']);
    expect(keys(await feed('?updatedSince=2026-11-30T01:00:00.000002Z'))).toEqual(['01/B', '01/C', '79/D']);
    expect(keys(await feed('?updatedSince=2026-11-30T08:00:00.000003%2B07:00'))).toEqual(['01/C', '79/D']);
  });

  it('gives 100 items by default and at most 1000, refusing another limit by name', async () => {
    await upsertDossiers(
      env.db,
      Array.from({ length: 150 }, (_, i) => dossierRecord({ dossierCode: `D-${String(i).padStart(3, '0')}` })),
    );
    await sql`UPDATE dossiers SET synced_at = synced_at - interval '1 minute'`.execute(env.db);
    const page = await feed('');
    expect(page.items).toHaveLength(100);
    expect(page.hasMore).toBe(true);
    expect((await feed('?limit=1000')).items).toHaveLength(150);
    for (const limit of ['0', '1001', 'abc', '2.5'])
      await expectProblem(
        `?limit=${limit}`,
        400,
        'invalid_request',
        /querystring\.limit: expected a whole number from 1 to 1000/,
      );
  });

  it('refuses bad filters by name, with what is expected', async () => {
    await expectProblem(
      '?status=11',
      400,
      'invalid_request',
      /querystring\.status: expected national status codes 1 to 10/,
    );
    await expectProblem('?status=4;5', 400, 'invalid_request', /querystring\.status/);
    await expectProblem(
      '?updatedSince=2026-11-30T01:00:00',
      400,
      'invalid_request',
      /querystring\.updatedSince: expected an ISO 8601 time with its offset/,
    );
    await expectProblem('?province=1', 400, 'invalid_request', /querystring\.province: expected a two-digit/);
    await expectProblem(
      '?provinceCode=01',
      400,
      'invalid_request',
      /unknown parameter "provinceCode"; expected only province, status/,
    );
    await expectProblem('?province=27', 404, 'province_not_found', /former code of Bắc Ninh, now 24; use 24/);
    await expectProblem('?province=99', 404, 'province_not_found', /99 is not a current \(2025\) province code/);
  });
});

describe('the cursor', () => {
  beforeEach(async () => {
    await stored([{ dossierCode: 'A' }, '2026-11-30T00:00:00Z'], [{ dossierCode: 'B' }, '2026-11-30T00:00:01Z']);
  });

  it('made for other filters is refused with 400 cursor_mismatch naming both', async () => {
    const { nextCursor } = await feed('?province=01&status=2&limit=1');
    await expectProblem(
      `?province=79&status=2&cursor=${nextCursor}`,
      400,
      'cursor_mismatch',
      /made for province=01&status=2, but this request has province=79&status=2/,
    );
    await expectProblem(`?cursor=${nextCursor}`, 400, 'cursor_mismatch', /but this request has no filters/);
    // The same filters in another order are the same filters.
    expect(keys(await feed(`?status=2&province=01&limit=1&cursor=${nextCursor}`))).toEqual(['01/B']);
  });

  it('that is not one, or was changed, is refused with 400 invalid_cursor', async () => {
    await expectProblem('?cursor=not-a-cursor', 400, 'invalid_cursor', /cursor: it does not decode to a cursor/);
    await expectProblem('?cursor=a%2Bb', 400, 'invalid_cursor', /not base64url/);
    const { nextCursor } = await feed('?limit=1');
    const edited = { ...cursorOf(nextCursor), s: '2020-01-01T00:00:00.000000Z' };
    const forged = Buffer.from(JSON.stringify(edited)).toString('base64url');
    await expectProblem(`?cursor=${forged}`, 400, 'invalid_cursor', /changed or damaged/);
    const unknown = Buffer.from(JSON.stringify({ ...edited, v: 9 })).toString('base64url');
    await expectProblem(`?cursor=${unknown}`, 400, 'invalid_cursor', /not a cursor of this feed/);
  });

  it('older than FEED_CURSOR_MAX_AGE_DAYS, or of an older format, is gone: 410 cursor_expired, restart from updatedSince', async () => {
    const { nextCursor } = await feed('?limit=1');
    clock.set('2026-12-30T05:00:00Z');
    expect(keys(await feed(`?limit=1&cursor=${nextCursor}`))).toEqual(['01/B']);
    clock.set('2027-01-01T05:00:01Z');
    await expectProblem(
      `?limit=1&cursor=${nextCursor}`,
      410,
      'cursor_expired',
      /issued 2026-12-01T05:00:00.000Z, more than 30 days ago \(FEED_CURSOR_MAX_AGE_DAYS\); start again without a cursor, with updatedSince .*2026-11-30T00:00:00.000000Z/,
    );
    const older = Buffer.from(JSON.stringify({ v: 0, at: '2026-11-30T00:00:00Z' })).toString('base64url');
    await expectProblem(
      `?cursor=${older}`,
      410,
      'cursor_expired',
      /older version of the feed \(format 0\); start again without a cursor, with updatedSince/,
    );
  });
});
