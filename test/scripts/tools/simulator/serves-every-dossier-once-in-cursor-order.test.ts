import { afterEach, describe, expect, it } from 'vitest';
import { formatVietnamTime } from '../../../../connectors/sdk/dates.js';
import { ProvinceSimulator } from '../../../../scripts/tools/simulator/province-simulator.js';
import { fetchPage, isInCursorOrder, readAllPages, truthByCode } from './portal-client.js';

const baseTime = new Date('2026-03-01T03:00:00Z');
let simulator: ProvinceSimulator | undefined;
afterEach(() => simulator?.stop());

describe('paging a province by updated-since cursor', () => {
  it('serves every dossier of the province exactly once, in (NgayCapNhat, MaHoSo) order', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01', '79'], dossiersPerProvince: 1500, baseTime, paused: true });
    const url = await simulator.start();

    const { items } = await readAllPages(url, '79', 97);

    const truth = truthByCode(simulator.truth(), '79');
    expect(items.map((item) => item.MaHoSo).sort()).toEqual([...truth.keys()].sort());
    expect(new Set(items.map((item) => item.MaHoSo)).size).toBe(items.length);
    expect(items.every((item) => item.MaTinh === '79')).toBe(true);
    expect(isInCursorOrder(items)).toBe(true);
  });

  it('still serves every dossier once, with its current version, after thousands of changes reshuffle the order', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 3000, baseTime, paused: true });
    const url = await simulator.start();
    expect(simulator.advance(5000)).toBe(5000);

    const { items } = await readAllPages(url, '01', 250);

    const truth = truthByCode(simulator.truth(), '01');
    expect(items).toHaveLength(truth.size);
    expect(isInCursorOrder(items)).toBe(true);
    for (const item of items) {
      const row = truth.get(item.MaHoSo);
      expect(item.PhienBan).toBe(row?.version);
      expect(item.TrangThaiHoSo).toBe(String(row?.status));
      expect(item.NgayCapNhat).toBe(formatVietnamTime(new Date(row?.updatedAt ?? 0)));
    }
  });

  it('continuing from the last cursor returns exactly the dossiers changed since, at their latest version', async () => {
    // A base time in the past, so changes stamped with the wall clock land after every initial NgayCapNhat.
    simulator = new ProvinceSimulator({
      provinces: ['01'],
      dossiersPerProvince: 800,
      baseTime: new Date(Date.now() - 86_400_000),
      paused: true,
    });
    const url = await simulator.start();
    const first = await readAllPages(url, '01', 100);
    const versionsBefore = new Map(first.items.map((item) => [item.MaHoSo, item.PhienBan]));

    simulator.advance(300);
    const next = await readAllPages(url, '01', 100, first.cursor);

    const changed = [...simulator.truth()].filter((row) => row.version > (versionsBefore.get(row.dossierCode) ?? 0));
    expect(changed.length).toBeGreaterThan(0);
    expect(next.items.map((item) => item.MaHoSo).sort()).toEqual(changed.map((row) => row.dossierCode).sort());
    for (const row of changed) {
      expect(next.items.find((item) => item.MaHoSo === row.dossierCode)?.PhienBan).toBe(row.version);
    }
  });

  it('includes dossiers updated exactly at updatedSince when no afterCode is given', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 300, baseTime, paused: true });
    const url = await simulator.start();
    const { items } = await readAllPages(url, '01', 5000);
    const middle = items[150];
    if (!middle) throw new Error('expected 300 dossiers');

    const page = await fetchPage(url, { province: '01', limit: '5000', updatedSince: middle.NgayCapNhat });

    expect(page.items[0]?.NgayCapNhat).toBe(middle.NgayCapNhat);
    expect(page.items.map((item) => item.MaHoSo)).toEqual(
      items.filter((item) => item.NgayCapNhat >= middle.NgayCapNhat).map((item) => item.MaHoSo),
    );
  });

  it('serves 100 items by default and says whether more follow', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 150, baseTime, paused: true });
    const url = await simulator.start();

    const first = await fetchPage(url, { province: '01' });
    const all = await fetchPage(url, { province: '01', limit: '150' });

    expect(first.items).toHaveLength(100);
    expect(first.hasMore).toBe(true);
    expect(all.items).toHaveLength(150);
    expect(all.hasMore).toBe(false);
  });
});
