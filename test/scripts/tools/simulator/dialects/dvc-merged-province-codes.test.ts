import { afterEach, describe, expect, it } from 'vitest';
import { currentProvince, resolveProvince } from '../../../../../config/provinces.js';
import { ProvinceSimulator } from '../../../../../scripts/tools/simulator/province-simulator.js';
import { readAllDvc } from './dvc-client.js';

const baseTime = new Date('2026-03-01T03:00:00Z');
let simulator: ProvinceSimulator | undefined;
afterEach(() => simulator?.stop());

describe('dvc: a merged province filing dossiers under former province codes', () => {
  // 79 (Hồ Chí Minh City) absorbed former 74 and 77; 24 (Bắc Ninh) absorbed former 27 and former 24, a code
  // that meant Bắc Giang before the merger and Bắc Ninh after it.
  it.each(['79', '24'])(
    'every record of province %s resolves, by ma_tinh and bo_ma, to the province it was asked for',
    async (province) => {
      simulator = new ProvinceSimulator({
        provinces: [province, '01'],
        dossiersPerProvince: 600,
        baseTime,
        paused: true,
      });
      const url = await simulator.start();

      const { records } = await readAllDvc(url, { province, limit: '1000' }, 'next_cursor');

      expect(records).toHaveLength(600);
      for (const record of records) expect(resolveProvince(record.ma_tinh, record.bo_ma)?.code).toBe(province);
      const former = records.filter((record) => record.bo_ma === '2008');
      const current = records.filter((record) => record.bo_ma === '2025');
      expect(current.every((record) => record.ma_tinh === province)).toBe(true);
      expect(former.length).toBeGreaterThan(240);
      expect(former.length).toBeLessThan(360);
      // Every former code of the province shows up.
      expect(new Set(former.map((record) => record.ma_tinh))).toEqual(new Set(currentProvince(province)?.formerCodes));
    },
  );

  it('files each dossier under the same code on every request and in every simulator with the same seed', async () => {
    const options = { provinces: ['79'], dossiersPerProvince: 200, baseTime, paused: true };
    simulator = new ProvinceSimulator(options);
    const other = new ProvinceSimulator(options);
    const [url, otherUrl] = [await simulator.start(), await other.start()];
    const codes = async (from: string) =>
      (await readAllDvc(from, { province: '79', limit: '1000' }, 'next_cursor')).records.map(
        (record) => `${record.ma_ho_so} ${record.ma_tinh} ${record.bo_ma}`,
      );
    try {
      const first = await codes(url);
      simulator.advance(100);

      expect((await codes(url)).sort()).toEqual([...first].sort());
      expect(await codes(otherUrl)).toEqual(first);
    } finally {
      await other.stop();
    }
  });
});
