import { afterEach, describe, expect, it } from 'vitest';
import { formatVietnamTime } from '../../../../../connectors/sdk/dates.js';
import { ProvinceSimulator } from '../../../../../scripts/tools/simulator/province-simulator.js';
import { fetchTruth, truthInScope } from '../portal-client.js';
import { readAllDvc } from './dvc-client.js';

const baseTime = new Date('2026-03-01T03:00:00Z');
let simulator: ProvinceSimulator | undefined;
afterEach(() => simulator?.stop());

const compact = (iso: string) => formatVietnamTime(new Date(iso));

// dvc cannot hash: it lists a scope, in its own names and status codes, and serves records by code.
describe('dvc reconciliation endpoints', () => {
  it('GET /dvc/v2/records/summary lists (ma_ho_so, phien_ban, trang_thai) of exactly the scope', async () => {
    simulator = new ProvinceSimulator({
      provinces: ['92'],
      dossiersPerProvince: 900,
      baseTime,
      paused: true,
      credentials: { apiKey: 'dvc-key' },
    });
    const url = await simulator.start();
    simulator.advance(150);
    const truth = await fetchTruth(url);
    const scope = { updatedFrom: '2026-02-05T00:00:00.000Z', updatedTo: '2026-02-20T00:00:00.000Z' };
    const codes = truthInScope(truth, '92', scope).map((row) => row.dossierCode);
    const [codeFrom, codeTo] = [codes[10] as string, codes[200] as string].sort() as [string, string];
    const query = {
      province: '92',
      apikey: 'dvc-key',
      from: compact(scope.updatedFrom),
      to: compact(scope.updatedTo),
      code_from: codeFrom,
      code_to: codeTo,
    };
    const response = await fetch(`${url}/dvc/v2/records/summary?${new URLSearchParams(query)}`);
    const body = await response.json();
    const expected = truthInScope(truth, '92', { ...scope, codeFrom, codeTo });
    expect(response.status).toBe(200);
    expect(expected.length).toBeGreaterThan(10);
    expect(body).toEqual({
      total: expected.length,
      items: expected.map((row) => ({
        ma_ho_so: row.dossierCode,
        phien_ban: row.version,
        trang_thai: `TT${String(row.status).padStart(2, '0')}`,
      })),
    });

    const refused = await fetch(`${url}/dvc/v2/records/summary?${new URLSearchParams({ ...query, apikey: 'wrong' })}`);
    expect(refused.status).toBe(403);
  });

  it('refuses a listing of more than 5000 records with a 400 in its own error shape', async () => {
    simulator = new ProvinceSimulator({ provinces: ['92'], dossiersPerProvince: 5001, baseTime, paused: true });
    const url = await simulator.start();
    const query = { province: '92', from: '20260101000000', to: '20270101000000' };
    const response = await fetch(`${url}/dvc/v2/records/summary?${new URLSearchParams(query)}`);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ message: expect.stringMatching(/more than 5000 records.*narrow/) });
  });

  it('GET /dvc/v2/records/by-code answers the records of the codes asked, as the pages serve them', async () => {
    simulator = new ProvinceSimulator({ provinces: ['92'], dossiersPerProvince: 200, baseTime, paused: true });
    const url = await simulator.start();
    simulator.advance(50);
    const { records } = await readAllDvc(url, { province: '92', limit: '1000' }, 'next_cursor');
    const asked = [records[3], records[120]].map((record) => record!.ma_ho_so);
    const response = await fetch(
      `${url}/dvc/v2/records/by-code?${new URLSearchParams({ province: '92', codes: [...asked, 'none'].join(',') })}`,
    );
    expect(response.status).toBe(200);
    expect(((await response.json()) as { records: unknown[] }).records).toEqual(
      asked.map((code) => records.find((r) => r.ma_ho_so === code)),
    );
  });
});
