import { afterEach, describe, expect, it } from 'vitest';
import { parseSourceDate } from '../../../../../connectors/sdk/dates.js';
import { dossierStatuses, statusCodes } from '../../../../../connectors/sdk/dossier-status.js';
import { ProvinceSimulator } from '../../../../../scripts/tools/simulator/province-simulator.js';
import { truthByCode } from '../portal-client.js';
import { layDanhSachHoSo, parseResult, postSoap, readAllLgsp, type ParsedHoSo } from './lgsp-client.js';

const baseTime = new Date('2026-03-01T03:00:00Z');
const statusOfLabel = new Map<string, number>(statusCodes.map((code) => [dossierStatuses[code].vi, code]));
let simulator: ProvinceSimulator | undefined;
afterEach(() => simulator?.stop());

/** dd/MM/yyyy HH:mm:ss does not sort as text; compare instants. */
function isInLgspOrder(records: readonly ParsedHoSo[]): boolean {
  const instant = (record: ParsedHoSo) =>
    parseSourceDate(record.NgayCapNhat, 'NgayCapNhat', 'dd/MM/yyyy HH:mm:ss')?.getTime() ?? Number.NaN;
  return records.every((record, index) => {
    const previous = records[index - 1];
    if (!previous) return true;
    const [before, after] = [instant(previous), instant(record)];
    return before < after || (before === after && previous.SoHoSo < record.SoHoSo);
  });
}

describe('lgsp-soap: LayDanhSachHoSo', () => {
  it('pages by ViTri/SoLuong through every dossier exactly once, in (NgayCapNhat, SoHoSo) order, agreeing with truth()', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01', '79'], dossiersPerProvince: 700, baseTime, paused: true });
    const url = await simulator.start();
    simulator.advance(400);

    const { records, totals } = await readAllLgsp(url, '79', { pageSize: 97 });

    const truth = truthByCode(simulator.truth(), '79');
    expect(records).toHaveLength(truth.size);
    expect(totals.every((total) => total === 700)).toBe(true);
    expect(new Set(records.map((record) => record.SoHoSo)).size).toBe(records.length);
    expect(isInLgspOrder(records)).toBe(true);
    for (const record of records) {
      const row = truth.get(record.SoHoSo);
      expect(record.MaTinh).toBe('79');
      expect(statusOfLabel.get(record.TrangThai)).toBe(row?.status);
      expect(Number(record.PhienBan)).toBe(row?.version);
      expect(parseSourceDate(record.NgayCapNhat, 'NgayCapNhat', 'dd/MM/yyyy HH:mm:ss')?.toISOString()).toBe(
        row?.updatedAt,
      );
    }
  });

  it('serves every element of <HoSo> in order, empty elements for dates that have not happened, and the personal data under <NguoiNop>', async () => {
    simulator = new ProvinceSimulator({ provinces: ['79'], dossiersPerProvince: 200, baseTime, paused: true });
    const url = await simulator.start();

    const { records } = await readAllLgsp(url, '79', { pageSize: 500 });

    expect(Object.keys(records[0] ?? {})).toEqual([
      'SoHoSo',
      'MaTinh',
      'MaThuTuc',
      'MaLinhVuc',
      'CoQuan',
      'KenhNop',
      'LoaiDoiTuong',
      'TrangThai',
      'NgayNop',
      'NgayTiepNhan',
      'NgayHenTra',
      'NgayXuLyXong',
      'NgayTraKetQua',
      'NgayTuChoi',
      'NgayCapNhat',
      'PhienBan',
      'NguoiNop',
    ]);
    expect(Object.keys(records[0]?.NguoiNop ?? {})).toEqual(['HoTen', 'SoDinhDanh', 'DienThoai', 'DiaChi']);
    for (const record of records) {
      for (const date of [
        record.NgayNop,
        record.NgayTiepNhan,
        record.NgayHenTra,
        record.NgayXuLyXong,
        record.NgayTraKetQua,
        record.NgayTuChoi,
      ]) {
        expect(date).toMatch(/^(\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}:\d{2})?$/);
      }
      expect(['1', '2', '3']).toContain(record.KenhNop);
      expect(['1', '2', '3', '4']).toContain(record.LoaiDoiTuong);
      expect(record.NguoiNop.HoTen).not.toBe('');
    }
    expect(records.some((record) => record.NgayTiepNhan === '')).toBe(true);
  });

  it('reads TuNgay as Vietnam time, inclusive, and counts TongSo from it', async () => {
    // Every dossier stamped 2026-03-01 03:00:00 UTC, which is 10:00:00 in Vietnam.
    simulator = new ProvinceSimulator({
      provinces: ['01'],
      dossiersPerProvince: 10,
      baseTime,
      sameUpdatedAt: true,
      paused: true,
    });
    const url = await simulator.start();
    const count = async (since: string) => {
      const result = parseResult((await postSoap(url, layDanhSachHoSo({ MaTinh: '01', TuNgay: since }))).xml);
      expect(result.records).toHaveLength(result.total);
      return result.total;
    };

    expect(await count('01/03/2026 09:59:59')).toBe(10);
    expect(await count('01/03/2026 10:00:00')).toBe(10);
    expect(await count('01/03/2026 10:00:01')).toBe(0);
  });

  it('serves 100 from position 0 when ViTri and SoLuong are left out or empty', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 150, baseTime, paused: true });
    const url = await simulator.start();

    const leftOut = parseResult((await postSoap(url, layDanhSachHoSo({ MaTinh: '01' }))).xml);
    const empty = parseResult(
      (await postSoap(url, layDanhSachHoSo({ MaTinh: '01', TuNgay: '', ViTri: '', SoLuong: '' }))).xml,
    );

    expect(leftOut.total).toBe(150);
    expect(leftOut.records).toHaveLength(100);
    expect(empty.records).toEqual(leftOut.records);
  });

  it('answers text/xml with an empty <DanhSachHoSo> past the end', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 5, baseTime, paused: true });
    const url = await simulator.start();

    const response = await postSoap(url, layDanhSachHoSo({ MaTinh: '01', ViTri: '5', SoLuong: '10' }));

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/xml; charset=utf-8');
    expect(response.xml).toContain('<DanhSachHoSo></DanhSachHoSo>');
    expect(parseResult(response.xml)).toEqual({ total: 5, records: [] });
  });
});
