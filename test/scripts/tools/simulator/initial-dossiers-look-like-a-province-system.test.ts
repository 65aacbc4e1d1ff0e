import { beforeAll, describe, expect, it } from 'vitest';
import { parseSourceDate } from '../../../../connectors/sdk/dates.js';
import { vietnamDayStart } from '../../../../scripts/tools/simulator/business-calendar.js';
import type { PortalDossierItem } from '../../../../scripts/tools/simulator/portal-wire-format.js';
import { ProvinceSimulator } from '../../../../scripts/tools/simulator/province-simulator.js';
import { readAllPages } from './portal-client.js';

const baseTime = new Date('2026-03-01T03:00:00Z');
const day = 86_400_000;
const at = (value: string | null) => parseSourceDate(value, 'date', 'yyyyMMddHHmmss')?.getTime() ?? null;

describe('the initial population', () => {
  let items: PortalDossierItem[] = [];
  beforeAll(async () => {
    const simulator = new ProvinceSimulator({
      provinces: ['01'],
      dossiersPerProvince: 2000,
      seed: 5,
      baseTime,
      paused: true,
    });
    items = (await readAllPages(await simulator.start(), '01', 5000)).items;
    await simulator.stop();
  });

  it('covers every status, with many dossiers still in progress', () => {
    const statuses = new Set(items.map((item) => item.TrangThaiHoSo));
    expect([...statuses].sort((a, b) => Number(a) - Number(b))).toEqual([
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
      '10',
    ]);
    const inProgress = items.filter((item) => ['2', '4', '5', '6'].includes(item.TrangThaiHoSo));
    expect(inProgress.length).toBeGreaterThan(items.length * 0.3);
  });

  it('spreads NgayCapNhat over the 30 days before baseTime, at version 1', () => {
    const stamps = items.map((item) => at(item.NgayCapNhat) as number);
    expect(Math.min(...stamps)).toBeGreaterThan(baseTime.getTime() - 30 * day);
    expect(Math.max(...stamps)).toBeLessThanOrEqual(baseTime.getTime());
    expect(Math.max(...stamps) - Math.min(...stamps)).toBeGreaterThan(25 * day);
    expect(items.every((item) => item.PhienBan === 1)).toBe(true);
  });

  it('sets the business dates each status implies, in order, and none after NgayCapNhat', () => {
    for (const item of items) {
      const status = Number(item.TrangThaiHoSo);
      const submitted = at(item.NgayNopHoSo) as number;
      const received = at(item.NgayTiepNhan);
      const due = at(item.NgayHenTra);
      const finished = at(item.NgayKetThucXuLy);
      const returned = at(item.NgayTra);
      const rejected = at(item.NgayTuChoi);
      const updated = at(item.NgayCapNhat) as number;
      const wasReceived = [2, 4, 5, 6, 8, 9, 10].includes(status);
      expect(received !== null, `${item.MaHoSo} NgayTiepNhan`).toBe(wasReceived || (status === 7 && received !== null));
      expect(due !== null).toBe(received !== null);
      expect(finished !== null, `${item.MaHoSo} NgayKetThucXuLy`).toBe(status === 9 || status === 10);
      expect(returned !== null).toBe(status === 10);
      expect(rejected !== null).toBe(status === 3);

      const timeline = [submitted, received, finished, returned, rejected].filter((time) => time !== null);
      expect(timeline).toEqual([...timeline].sort((a, b) => a - b));
      expect(Math.max(...timeline)).toBeLessThanOrEqual(updated);
      // Due 3 to 15 days after receipt, plus up to a week per supplement request.
      if (received !== null && due !== null) expect((due - received) / day).toBeGreaterThanOrEqual(2);
    }
  });

  it('finishes some dossiers early, some on the due day and some late (calendar days, Vietnam time)', () => {
    const verdicts = new Set(
      items
        .filter((item) => item.NgayKetThucXuLy !== null && item.NgayHenTra !== null)
        .map((item) => {
          const finishedDay = vietnamDayStart(at(item.NgayKetThucXuLy) as number);
          const dueDay = vietnamDayStart(at(item.NgayHenTra) as number);
          return finishedDay < dueDay ? 'early' : finishedDay === dueDay ? 'on time' : 'late';
        }),
    );
    expect(verdicts).toEqual(new Set(['early', 'on time', 'late']));
  });

  it('codes dossiers per province and year, with portal-style procedure and agency codes', () => {
    expect(new Set(items.map((item) => item.MaHoSo)).size).toBe(items.length);
    for (const item of items) {
      expect(item.MaHoSo).toMatch(new RegExp(`^01\\.${item.NgayNopHoSo.slice(0, 4)}\\.\\d{6}$`));
      expect(item.MaTinh).toBe('01');
      expect(item.MaTTHC).toMatch(/^\d\.\d{6}$/);
      expect(item.DonViXuLy).toMatch(/^000\.00\.\d{2}\.H01$/);
      expect([1, 2, 3]).toContain(item.KenhThucHien);
      expect([1, 2, 3, 4]).toContain(item.LoaiDoiTuong);
    }
  });

  it('carries fake personal data a consumer must drop: a Vietnamese name, a 12-digit ID, a phone and an address', () => {
    for (const item of items) {
      expect(item.ChuHoSo).toMatch(/^\p{Lu}\p{L}* \p{Lu}\p{L}* \p{Lu}\p{L}*$/u);
      expect(item.SoGiayToChuHoSo).toMatch(/^\d{12}$/);
      expect(item.SoDienThoai).toMatch(/^0\d{9}$/);
      expect(item.DiaChi.length).toBeGreaterThan(10);
    }
    expect(items.some((item) => /[^\p{ASCII}]/u.test(item.ChuHoSo))).toBe(true);
  });
});
