import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSourceDate } from '../../../../../connectors/sdk/dates.js';
import { ProvinceSimulator, type TruthRow } from '../../../../../scripts/tools/simulator/province-simulator.js';
import { truthByCode } from '../portal-client.js';
import { nationalStatusOf, readAllDvc } from './dvc-client.js';
import { readAllIgate } from './igate-client.js';
import { readAllLgsp } from './lgsp-client.js';

let simulator: ProvinceSimulator;
let url: string;
let truth: Map<string, TruthRow>;
beforeAll(async () => {
  simulator = new ProvinceSimulator({
    provinces: ['01'],
    dossiersPerProvince: 400,
    baseTime: new Date('2026-03-01T03:00:00Z'),
    malformedRate: 0.2,
    paused: true,
  });
  url = await simulator.start();
  truth = truthByCode(simulator.truth(), '01');
});
afterAll(() => simulator.stop());

/** Splits served items by how truth() says each is broken, checking there are some of each. */
function byMalformedKind<T>(items: readonly T[], codeOf: (item: T) => string) {
  const kind = (item: T) => truth.get(codeOf(item))?.malformed ?? null;
  const groups = {
    unknownStatus: items.filter((item) => kind(item) === 'unknown_status'),
    badDate: items.filter((item) => kind(item) === 'bad_date'),
    wellFormed: items.filter((item) => kind(item) === null),
  };
  expect(groups.unknownStatus.length).toBeGreaterThan(20);
  expect(groups.badDate.length).toBeGreaterThan(20);
  return groups;
}

describe('malformed dossiers in the vendor dialects', () => {
  it('igate: state "archived" for an unknown status, timeline.dueAt 31 February at 25:00 for a bad date', async () => {
    const { items } = await readAllIgate(url, '01', { by: 'page', size: 500, token: null });
    const { unknownStatus, badDate, wellFormed } = byMalformedKind(items, (item) => item.code);

    expect(unknownStatus.every((item) => item.state === 'archived')).toBe(true);
    expect(badDate.every((item) => item.timeline.dueAt === '2026-02-31T25:00:00+07:00')).toBe(true);
    expect(() => parseSourceDate('2026-02-31T25:00:00+07:00', 'dueAt', 'iso')).toThrow();
    expect(wellFormed.some((item) => item.state === 'archived')).toBe(false);
    for (const item of wellFormed) expect(() => parseSourceDate(item.timeline.dueAt, 'dueAt', 'iso')).not.toThrow();
  });

  it('dvc: trang_thai "TT99" for an unknown status, han_xu_ly 20260231250000 for a bad date', async () => {
    const { records } = await readAllDvc(url, { province: '01', limit: '1000' }, 'next_cursor');
    const { unknownStatus, badDate, wellFormed } = byMalformedKind(records, (record) => record.ma_ho_so);

    expect(unknownStatus.every((record) => record.trang_thai === 'TT99')).toBe(true);
    expect(badDate.every((record) => record.han_xu_ly === '20260231250000')).toBe(true);
    for (const record of wellFormed) {
      expect(nationalStatusOf(record.trang_thai)).toBe(truth.get(record.ma_ho_so)?.status);
      expect(() => parseSourceDate(record.han_xu_ly, 'han_xu_ly', 'yyyyMMddHHmmss')).not.toThrow();
    }
  });

  it('lgsp-soap: <TrangThai>Lưu trữ</TrangThai> for an unknown status, <NgayHenTra>31/02/2026 25:00:00</NgayHenTra> for a bad date', async () => {
    const { records } = await readAllLgsp(url, '01', { pageSize: 500 });
    const { unknownStatus, badDate, wellFormed } = byMalformedKind(records, (record) => record.SoHoSo);

    expect(unknownStatus.every((record) => record.TrangThai === 'Lưu trữ')).toBe(true);
    expect(badDate.every((record) => record.NgayHenTra === '31/02/2026 25:00:00')).toBe(true);
    expect(() => parseSourceDate('31/02/2026 25:00:00', 'NgayHenTra', 'dd/MM/yyyy HH:mm:ss')).toThrow();
    expect(wellFormed.some((record) => record.TrangThai === 'Lưu trữ')).toBe(false);
    for (const record of wellFormed)
      expect(() => parseSourceDate(record.NgayHenTra, 'NgayHenTra', 'dd/MM/yyyy HH:mm:ss')).not.toThrow();
  });
});
