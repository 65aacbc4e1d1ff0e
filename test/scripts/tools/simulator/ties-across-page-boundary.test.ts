import { afterEach, describe, expect, it } from 'vitest';
import { ProvinceSimulator } from '../../../../scripts/tools/simulator/province-simulator.js';
import { fetchPage, isInCursorOrder, readAllPages } from './portal-client.js';

const baseTime = new Date('2026-03-01T03:00:00Z');
let simulator: ProvinceSimulator | undefined;
afterEach(() => simulator?.stop());

describe('dossiers sharing one NgayCapNhat', () => {
  it('pages through 250 dossiers stamped with the same instant, splitting ties by MaHoSo', async () => {
    simulator = new ProvinceSimulator({
      provinces: ['01'],
      dossiersPerProvince: 250,
      baseTime,
      sameUpdatedAt: true,
      paused: true,
    });
    const url = await simulator.start();

    const first = await fetchPage(url, { province: '01', limit: '100' });
    const { items } = await readAllPages(url, '01', 100);

    expect(new Set(items.map((item) => item.NgayCapNhat)).size).toBe(1);
    expect(first.hasMore).toBe(true);
    expect(items).toHaveLength(250);
    expect(new Set(items.map((item) => item.MaHoSo)).size).toBe(250);
    expect(items.map((item) => item.MaHoSo)).toEqual(items.map((item) => item.MaHoSo).sort());
  });

  it('restarts at the tied instant itself when asked without afterCode (inclusive updatedSince)', async () => {
    simulator = new ProvinceSimulator({
      provinces: ['01'],
      dossiersPerProvince: 30,
      baseTime,
      sameUpdatedAt: true,
      paused: true,
    });
    const url = await simulator.start();
    const [only] = (await fetchPage(url, { province: '01', limit: '1' })).items;
    if (!only) throw new Error('expected a dossier');

    const inclusive = await fetchPage(url, { province: '01', limit: '100', updatedSince: only.NgayCapNhat });
    const afterFirst = await fetchPage(url, {
      province: '01',
      limit: '100',
      updatedSince: only.NgayCapNhat,
      afterCode: only.MaHoSo,
    });

    expect(inclusive.items).toHaveLength(30);
    expect(afterFirst.items).toHaveLength(29);
    expect(afterFirst.items.map((item) => item.MaHoSo)).not.toContain(only.MaHoSo);
  });

  it('truncates NgayCapNhat to the minute for a coarse vendor clock, and pages ties between changed dossiers too', async () => {
    simulator = new ProvinceSimulator({
      provinces: ['01'],
      dossiersPerProvince: 600,
      baseTime,
      updatedAtPrecision: 'minute',
      paused: true,
    });
    const url = await simulator.start();
    // Changes made together share the current minute, mixing with each other in the tie.
    simulator.advance(400);

    const { items } = await readAllPages(url, '01', 7);

    expect(items.every((item) => item.NgayCapNhat.endsWith('00'))).toBe(true);
    expect(items).toHaveLength(600);
    expect(new Set(items.map((item) => item.MaHoSo)).size).toBe(600);
    expect(isInCursorOrder(items)).toBe(true);
    const ties = items.filter((item, index) => items[index - 1]?.NgayCapNhat === item.NgayCapNhat);
    expect(ties.length).toBeGreaterThan(100);
  });
});
