import { afterEach, describe, expect, it } from 'vitest';
import { parseSourceDate } from '../../../../connectors/sdk/dates.js';
import { ProvinceSimulator } from '../../../../scripts/tools/simulator/province-simulator.js';
import { readAllPages, truthByCode } from './portal-client.js';

const baseTime = new Date('2026-03-01T03:00:00Z');
let simulator: ProvinceSimulator | undefined;
afterEach(() => simulator?.stop());

describe('malformedRate', () => {
  it('serves the chosen fraction broken, half with status "99" and half with an impossible NgayHenTra', async () => {
    simulator = new ProvinceSimulator({
      provinces: ['01'],
      dossiersPerProvince: 1000,
      baseTime,
      malformedRate: 0.2,
      paused: true,
    });
    const url = await simulator.start();
    const truth = truthByCode(simulator.truth(), '01');

    const { items } = await readAllPages(url, '01', 1000);

    const unknownStatus = items.filter((item) => truth.get(item.MaHoSo)?.malformed === 'unknown_status');
    const badDate = items.filter((item) => truth.get(item.MaHoSo)?.malformed === 'bad_date');
    const wellFormed = items.filter((item) => truth.get(item.MaHoSo)?.malformed === null);
    expect(unknownStatus.length + badDate.length).toBeGreaterThan(150);
    expect(unknownStatus.length + badDate.length).toBeLessThan(250);
    expect(Math.abs(unknownStatus.length - badDate.length)).toBeLessThanOrEqual(1);

    expect(unknownStatus.every((item) => item.TrangThaiHoSo === '99')).toBe(true);
    expect(badDate.every((item) => item.NgayHenTra === '20260231250000')).toBe(true);
    expect(() => parseSourceDate('20260231250000', 'NgayHenTra', 'yyyyMMddHHmmss')).toThrow();
    for (const item of wellFormed) {
      expect(Number(item.TrangThaiHoSo)).toBeGreaterThanOrEqual(1);
      expect(Number(item.TrangThaiHoSo)).toBeLessThanOrEqual(10);
      expect(() => parseSourceDate(item.NgayHenTra, 'NgayHenTra', 'yyyyMMddHHmmss')).not.toThrow();
    }
  });

  it('picks the same dossiers for the same seed, and serves none broken by default', () => {
    const options = { provinces: ['01'], dossiersPerProvince: 300, baseTime, paused: true };
    const broken = (rate?: number) =>
      [...new ProvinceSimulator({ ...options, malformedRate: rate }).truth()]
        .filter((row) => row.malformed !== null)
        .map((row) => row.dossierCode);

    expect(broken(0.1)).toEqual(broken(0.1));
    expect(broken(0.1).length).toBeGreaterThan(0);
    expect(broken()).toEqual([]);
  });

  it('keeps moving malformed dossiers like the others', () => {
    simulator = new ProvinceSimulator({
      provinces: ['01'],
      dossiersPerProvince: 200,
      baseTime,
      malformedRate: 0.5,
      paused: true,
    });

    simulator.advance(600);

    const moved = [...simulator.truth()].filter((row) => row.malformed !== null && row.version > 1);
    expect(moved.some((row) => row.malformed === 'unknown_status')).toBe(true);
    expect(moved.some((row) => row.malformed === 'bad_date')).toBe(true);
  });
});
