import { afterEach, describe, expect, it } from 'vitest';
import { DeclarativeConnector } from '../../../connectors/declarative/declarative-connector.js';
import { declarativeConfig } from '../../../connectors/declarative/declarative-config.js';
import type { Cursor, ReadState } from '../../../connectors/sdk/connector.js';
import { mapItems } from '../../../connectors/sdk/normalise.js';
import { VendorServer, type VendorRecord } from './vendor-server.js';

let server: VendorServer | null = null;
afterEach(async () => {
  await server?.stop();
  server = null;
});

/**
 * The vendor reads its own times, `dd/MM/yyyy HH:mm` (and `yyyy-MM-dd HH:mm:ss.SSS` for the finer source
 * below), as a number it can compare: its filter compares times, not text ("01/12" sorts before "30/11").
 */
function vendorTime(text: string): number {
  const minute = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2})$/.exec(text);
  if (minute)
    return Date.UTC(Number(minute[3]), Number(minute[2]) - 1, Number(minute[1]), Number(minute[4]), Number(minute[5]));
  const fine = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})$/.exec(text);
  if (fine)
    return Date.UTC(
      Number(fine[1]),
      Number(fine[2]) - 1,
      Number(fine[3]),
      Number(fine[4]),
      Number(fine[5]),
      Number(fine[6]),
      Number(fine[7]),
    );
  throw new Error(`the test vendor cannot read ${text}`);
}

/**
 * Three records a minute from 30/11/2026 23:52 to 01/12/2026 00:05, Vietnam time: a day and month change, ties across
 * pages.
 */
function minuteRecords(): VendorRecord[] {
  return Array.from({ length: 42 }, (_, i) => {
    const at = new Date(Date.UTC(2026, 10, 30, 23, 52) + Math.floor(i / 3) * 60_000);
    const pad = (n: number) => String(n).padStart(2, '0');
    return {
      code: `79.2026.${String(i).padStart(5, '0')}`,
      state: ['processing', 'waiting', 'done'][i % 3]!,
      updatedAt: `${pad(at.getUTCDate())}/${pad(at.getUTCMonth() + 1)}/${at.getUTCFullYear()} ${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}`,
      dueAt: '15/12/2026 17:30',
    };
  });
}

function connector(url: string, incremental: Record<string, unknown>): DeclarativeConnector {
  const config = declarativeConfig.parse({
    http: { baseUrl: url },
    request: { path: '/records', query: { since: '{{cursor}}', page: '{{page}}', size: '{{pageSize}}' } },
    pagination: { type: 'pageNumber', pageSize: 7, firstPage: 1 },
    incremental: { cursorField: 'updatedAt', cursorFormat: 'dd/MM/yyyy HH:mm', ...incremental },
    records: { path: 'data.items' },
    // sourceUpdatedAt is the cursor field, read in the cursor's format.
    fields: { dossierCode: 'code', status: 'state', dueAt: { path: 'dueAt', format: 'dd/MM/yyyy HH:mm' } },
    statuses: { preset: 'english' },
    rateLimit: { requestsPerSecond: 1000 },
  });
  return new DeclarativeConnector({ id: 'minutes', sourceProvinceCode: '79', sourceCodeSet: '2025', config });
}

/**
 * One poll run as the poller makes it: from the committed cursor to the last page; the items and the cursor reached.
 */
async function pollRun(
  source: DeclarativeConnector,
  committed: Cursor | null,
): Promise<{ items: VendorRecord[]; cursor: Cursor | null }> {
  const items: VendorRecord[] = [];
  let cursor = committed;
  for (let state: ReadState | null = source.startFrom(committed); state !== null;) {
    const page = await source.read(state);
    items.push(...(page.items as VendorRecord[]));
    cursor = page.cursor;
    state = page.next;
  }
  return { items, cursor };
}

const codes = (records: VendorRecord[]) => records.map((record) => record.code);
const sinceSent = (vendor: VendorServer) => [...vendor.seen.windows].map((window) => window.split('..')[0]);

describe('a source whose update time has minute precision (dd/MM/yyyy HH:mm)', () => {
  it('is read whole, mapped in Vietnam time, and then re-read only over the look-back, with {{cursor}} in its own format', async () => {
    const records = minuteRecords();
    server = new VendorServer({ records, pagination: 'pageNumber', timeOf: vendorTime });
    const source = connector(await server.start(), { lookbackSeconds: 120 });

    const first = await pollRun(source, null);
    expect(codes(first.items)).toEqual(codes(records));
    const mapped = mapItems(source, first.items, {
      connectorId: 'minutes',
      sourceProvinceCode: '79',
      sourceCodeSet: '2025',
      observedAt: new Date(),
    });
    expect(mapped.deadLetters).toEqual([]);
    expect(mapped.records[0]).toMatchObject({
      sourceUpdatedAt: '2026-11-30T16:52:00.000Z',
      sourceVersion: Date.parse('2026-11-30T16:52:00.000Z'),
      dueAt: '2026-12-15T10:30:00.000Z',
    });
    expect(mapped.records.at(-1)).toMatchObject({ sourceUpdatedAt: '2026-11-30T17:05:00.000Z' });
    // 01/12/2026 00:05 Vietnam time.
    expect(first.cursor).toMatchObject({ since: '2026-11-30T17:05:00.000Z' });

    // While nothing changes, a second run reads the two minutes of look-back and nothing else.
    server.seen.windows.clear();
    const second = await pollRun(source, first.cursor);
    expect(sinceSent(server)).toEqual(['01/12/2026 00:03']);
    expect(codes(second.items)).toEqual(
      codes(records.filter((record) => vendorTime(record.updatedAt) >= vendorTime('01/12/2026 00:03'))),
    );
    expect(second.items).toHaveLength(9);
    expect(second.cursor).toMatchObject({ since: (first.cursor as { since: string }).since });

    // A change committed late into the cursor's own minute, and a later one: the next run reads both.
    records.push(
      { code: 'late-in-0005', state: 'done', updatedAt: '01/12/2026 00:05' },
      { code: 'new-in-0006', state: 'done', updatedAt: '01/12/2026 00:06' },
    );
    const third = await pollRun(source, second.cursor);
    expect(codes(third.items)).toEqual(expect.arrayContaining(['late-in-0005', 'new-in-0006']));
    expect(third.cursor).toMatchObject({ since: '2026-11-30T17:06:00.000Z' });
  });

  it('writes a look-back that is not a whole number of minutes down to its minute, so nothing in that minute is skipped', async () => {
    const records = minuteRecords();
    server = new VendorServer({ records, pagination: 'pageNumber', timeOf: vendorTime });
    const source = connector(await server.start(), { lookbackSeconds: 30 });
    const first = await pollRun(source, null);
    // A change to a dossier lands in 00:04 after the first run had read past it: 30 s of look-back from 00:05
    // start at 00:04:30, which the source's minutes can only say as 00:04.
    records.splice(39, 0, { code: 'late-in-0004', state: 'done', updatedAt: '01/12/2026 00:04' });
    server.seen.windows.clear();
    const second = await pollRun(source, first.cursor);
    expect(sinceSent(server)).toEqual(['01/12/2026 00:04']);
    expect(codes(second.items)).toEqual(
      codes(records.filter((record) => vendorTime(record.updatedAt) >= vendorTime('01/12/2026 00:04'))),
    );
    expect(codes(second.items)).toContain('late-in-0004');
  });

  it('asks an exclusive filter (>) from the minute before, so the look-back minute is still read', async () => {
    const records = minuteRecords();
    server = new VendorServer({ records, pagination: 'pageNumber', timeOf: vendorTime, exclusiveSince: true });
    const source = connector(await server.start(), { lookbackSeconds: 30, inclusive: false });
    const first = await pollRun(source, null);
    expect(codes(first.items)).toEqual(codes(records));
    records.splice(39, 0, { code: 'late-in-0004', state: 'done', updatedAt: '01/12/2026 00:04' });
    server.seen.windows.clear();
    const second = await pollRun(source, first.cursor);
    // "> 00:03" is every minute from 00:04 on.
    expect(sinceSent(server)).toEqual(['01/12/2026 00:03']);
    expect(codes(second.items)).toContain('late-in-0004');
    expect(codes(second.items)).toEqual(
      codes(records.filter((record) => vendorTime(record.updatedAt) >= vendorTime('01/12/2026 00:04'))),
    );
  });

  it('truncates a finer cursor (milliseconds) down to the minute of a coarser request format, never up', async () => {
    const records: VendorRecord[] = [
      { code: 'a', state: 'done', updatedAt: '2026-12-01 00:04:59.999' },
      { code: 'b', state: 'done', updatedAt: '2026-12-01 00:05:10.000' },
      { code: 'c', state: 'done', updatedAt: '2026-12-01 00:05:30.250' },
    ];
    server = new VendorServer({ records, pagination: 'pageNumber', timeOf: vendorTime });
    const source = connector(await server.start(), {
      cursorFormat: 'yyyy-MM-dd HH:mm:ss.SSS',
      requestFormat: 'dd/MM/yyyy HH:mm',
      lookbackSeconds: 0,
    });
    const first = await pollRun(source, null);
    expect(first.cursor).toMatchObject({ since: '2026-11-30T17:05:30.250Z' });
    // After the cursor, in the same minute: a request rounded to 00:06 would never see it.
    records.push({ code: 'd', state: 'done', updatedAt: '2026-12-01 00:05:40.000' });
    server.seen.windows.clear();
    const second = await pollRun(source, first.cursor);
    expect(sinceSent(server)).toEqual(['01/12/2026 00:05']);
    expect(codes(second.items)).toEqual(['b', 'c', 'd']);
    expect(second.cursor).toMatchObject({ since: '2026-11-30T17:05:40.000Z' });
  });
});
