import { afterEach, describe, expect, it } from 'vitest';
import { digestOf } from '../../../../connectors/sdk/summary-hash.js';
import { ProvinceSimulator, type TruthRow } from '../../../../scripts/tools/simulator/province-simulator.js';
import { fetchPage, fetchTruth, truthInScope, type TruthScope } from './portal-client.js';

const baseTime = new Date('2026-03-01T03:00:00Z');
const periodStart = '2026-01-01T00:00:00.000Z';
const periodEnd = '2026-12-31T00:00:00.000Z';
let simulator: ProvinceSimulator | undefined;
afterEach(() => simulator?.stop());

/** A summary answer, digest or listing, or an error. */
interface SummaryBody {
  count?: number;
  hash?: string;
  entries?: unknown[];
  code?: string;
  message?: string;
}

const entriesOf = (rows: TruthRow[]) =>
  rows.map((row) => ({ dossierCode: row.dossierCode, sourceVersion: row.version, status: row.status }));

async function summary(url: string, query: Record<string, string>): Promise<{ status: number; body: SummaryBody }> {
  const response = await fetch(`${url}/api/dossiers/summary?${new URLSearchParams(query)}`);
  return { status: response.status, body: (await response.json()) as SummaryBody };
}

/** Scopes across the period: whole, windows that cut runs of the index, a code range, an empty one. */
function scopesOver(rows: TruthRow[]): TruthScope[] {
  const times = rows.map((row) => Date.parse(row.updatedAt)).sort((a, b) => a - b);
  const at = (fraction: number) => new Date(times[Math.floor(fraction * (times.length - 1))] as number).toISOString();
  const codes = rows.map((row) => row.dossierCode).sort();
  return [
    { updatedFrom: periodStart, updatedTo: periodEnd },
    { updatedFrom: at(0.1), updatedTo: at(0.73) },
    { updatedFrom: at(0.5), updatedTo: at(0.5001) },
    { updatedFrom: at(0.2), updatedTo: at(0.9), codeFrom: codes[300] as string, codeTo: codes[1700] as string },
    { updatedFrom: periodStart, updatedTo: periodEnd, codeTo: codes[10] as string },
    { updatedFrom: at(0.4), updatedTo: at(0.4) },
  ];
}

describe('GET /api/dossiers/summary', () => {
  it('answers the count and hash digestOf gives over the truth of the same scope, also after movement', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01', '79'], dossiersPerProvince: 3000, baseTime, paused: true });
    const url = await simulator.start();
    for (const round of [0, 1]) {
      if (round === 1) simulator.advance(700);
      const truth = await fetchTruth(url);
      for (const scope of scopesOver(truth.filter((row) => row.provinceCode === '79'))) {
        const { status, body } = await summary(url, { province: '79', ...scope });
        expect(status).toBe(200);
        expect(body).toEqual(digestOf(entriesOf(truthInScope(truth, '79', scope))));
      }
    }
  });

  it('a whole-period digest is not 0 dossiers, and a changed dossier changes the hash', async () => {
    simulator = new ProvinceSimulator({ provinces: ['79'], dossiersPerProvince: 500, baseTime, paused: true });
    const url = await simulator.start();
    const scope = { province: '79', updatedFrom: periodStart, updatedTo: periodEnd };
    const before = (await summary(url, scope)).body;
    simulator.advance(1);
    const after = (await summary(url, scope)).body;
    expect(before.count).toBe(500);
    expect(after.count).toBe(500);
    expect(after.hash).not.toBe(before.hash);
  });

  it('with listing=true lists (dossierCode, version, status) of the scope in cursor order', async () => {
    simulator = new ProvinceSimulator({ provinces: ['79'], dossiersPerProvince: 800, baseTime, paused: true });
    const url = await simulator.start();
    simulator.advance(100);
    const truth = await fetchTruth(url);
    const [, scope] = scopesOver(truth) as [TruthScope, TruthScope];
    const { status, body } = await summary(url, { province: '79', ...scope, listing: 'true' });
    const expected = truthInScope(truth, '79', scope);
    expect(status).toBe(200);
    expect(body.count).toBe(expected.length);
    expect(body.entries).toEqual(
      expected.map((row) => ({ dossierCode: row.dossierCode, version: row.version, status: row.status })),
    );
  });

  it('refuses a listing of more than 10,000 dossiers with a 400 that says to narrow the scope', async () => {
    simulator = new ProvinceSimulator({ provinces: ['79'], dossiersPerProvince: 10_001, baseTime, paused: true });
    const url = await simulator.start();
    const { status, body } = await summary(url, {
      province: '79',
      updatedFrom: periodStart,
      updatedTo: periodEnd,
      listing: 'true',
    });
    expect(status).toBe(400);
    expect(body).toEqual({ code: 'bad_request', message: expect.stringMatching(/more than 10000 dossiers.*narrow/) });
  });

  it('refuses a scope it cannot read with a 400 naming the parameter', async () => {
    simulator = new ProvinceSimulator({ provinces: ['79'], dossiersPerProvince: 10, baseTime, paused: true });
    const url = await simulator.start();
    const cases: [Record<string, string>, RegExp][] = [
      [{ updatedFrom: periodStart, updatedTo: periodEnd }, /province is required/],
      [{ province: '01', updatedFrom: periodStart, updatedTo: periodEnd }, /province "01" is not served/],
      [{ province: '79', updatedTo: periodEnd }, /updatedFrom is required/],
      [{ province: '79', updatedFrom: '20260101000000', updatedTo: periodEnd }, /updatedFrom must be an RFC 3339/],
      [{ province: '79', updatedFrom: periodEnd, updatedTo: periodStart }, /updatedFrom must not be after updatedTo/],
      [
        { province: '79', updatedFrom: periodStart, updatedTo: periodEnd, codeFrom: 'b', codeTo: 'a' },
        /codeFrom must sort before codeTo/,
      ],
      [{ province: '79', updatedFrom: periodStart, updatedTo: periodEnd, listing: 'yes' }, /listing must be true/],
    ];
    for (const [query, message] of cases) {
      const { status, body } = await summary(url, query);
      expect({ status, body }).toEqual({
        status: 400,
        body: { code: 'bad_request', message: expect.stringMatching(message) },
      });
    }
  });
});

describe('GET /api/dossiers/by-code', () => {
  it('answers the current items of exactly the codes asked, in the list wire format; unknown codes are absent', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01', '79'], dossiersPerProvince: 300, baseTime, paused: true });
    const url = await simulator.start();
    simulator.advance(200);
    const { items: listed } = await fetchPage(url, { province: '79', limit: '1000' });
    const asked = [listed[5], listed[150], listed[299]].map((item) => item!.MaHoSo);
    const response = await fetch(
      `${url}/api/dossiers/by-code?${new URLSearchParams({ province: '79', codes: [...asked, '79.2026.nope'].join(',') })}`,
    );
    const body = (await response.json()) as { items: unknown[] };
    expect(response.status).toBe(200);
    expect(body.items).toEqual(asked.map((code) => listed.find((item) => item.MaHoSo === code)));
  });

  it('refuses more than 200 codes, or none', async () => {
    simulator = new ProvinceSimulator({ provinces: ['79'], dossiersPerProvince: 10, baseTime, paused: true });
    const url = await simulator.start();
    const codes = Array.from({ length: 201 }, (_, index) => `79.2026.${index}`).join(',');
    for (const [query, message] of [
      [{ province: '79', codes }, /201 codes; at most 200/],
      [{ province: '79' }, /codes is required/],
    ] as const) {
      const response = await fetch(`${url}/api/dossiers/by-code?${new URLSearchParams(query)}`);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { message: string }).message).toMatch(message);
    }
  });
});
