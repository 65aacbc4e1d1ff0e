import { afterEach, describe, expect, it } from 'vitest';
import { parseSourceDate } from '../../../../connectors/sdk/dates.js';
import { ProvinceSimulator, type TruthRow } from '../../../../scripts/tools/simulator/province-simulator.js';
import { readAllPages } from './portal-client.js';

const baseTime = new Date('2026-03-01T03:00:00Z');
let simulator: ProvinceSimulator | undefined;
afterEach(() => simulator?.stop());

describe('the truth', () => {
  it('GET /_sim/truth streams one NDJSON line per dossier, equal to truth() in-process', async () => {
    simulator = new ProvinceSimulator({
      provinces: ['01', '79'],
      dossiersPerProvince: 120,
      baseTime,
      malformedRate: 0.1,
      paused: true,
    });
    const url = await simulator.start();
    simulator.advance(50);

    const response = await fetch(`${url}/_sim/truth`);
    const lines = (await response.text()).split('\n').filter((line) => line !== '');

    expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(lines).toHaveLength(240);
    const rows = lines.map((line) => JSON.parse(line) as TruthRow);
    expect(rows).toEqual([...simulator.truth()]);
    expect(Object.keys(rows[0] ?? {}).sort()).toEqual([
      'dossierCode',
      'malformed',
      'provinceCode',
      'status',
      'updatedAt',
      'version',
    ]);
  });

  it('agrees with what a consumer reads: status, version and NgayCapNhat of every dossier', async () => {
    simulator = new ProvinceSimulator({ provinces: ['79'], dossiersPerProvince: 300, baseTime, paused: true });
    const url = await simulator.start();
    simulator.advance(200);

    const served = new Map((await readAllPages(url, '79', 1000)).items.map((item) => [item.MaHoSo, item]));

    for (const row of simulator.truth()) {
      const item = served.get(row.dossierCode);
      expect(item?.TrangThaiHoSo).toBe(String(row.status));
      expect(item?.PhienBan).toBe(row.version);
      expect(parseSourceDate(item?.NgayCapNhat, 'NgayCapNhat', 'yyyyMMddHHmmss')?.toISOString()).toBe(row.updatedAt);
    }
  });

  it('GET /_sim/health reports provinces, dossier count, pause state and changes so far', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01', '79'], dossiersPerProvince: 50, baseTime, paused: true });
    const url = await simulator.start();
    simulator.advance(7);

    const health = await (await fetch(`${url}/_sim/health`)).json();

    expect(health).toEqual({ ok: true, provinces: ['01', '79'], dossiers: 100, paused: true, changes: 7 });
  });
});
