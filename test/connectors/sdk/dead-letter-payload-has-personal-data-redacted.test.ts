import { describe, expect, it } from 'vitest';
import { mapItems } from '../../../connectors/sdk/normalise.js';
import { input, origin, passThrough } from './normalise-fixtures.js';

const personalValues = [
  'Nguyễn Văn An',
  '001099012345',
  '0912345678',
  '12 Lê Lợi, Quận 1',
  'an.nguyen@example.vn',
  'Trần Thị Bình',
  '0987654321',
  '079188000111',
];

const item = input({
  dossierCode: 'H56.2026.000777',
  status: 99, // makes the item a dead letter
  ChuHoSo: 'Nguyễn Văn An',
  SoGiayToChuHoSo: '001099012345',
  SoDienThoai: '0912345678',
  DiaChi: '12 Lê Lợi, Quận 1',
  Email: 'an.nguyen@example.vn',
  DinhDanhCHS: '079188000111',
  MaHoSo: 'H56.2026.000777',
  TrangThaiHoSo: '99',
  ThongTinNguoiNop: { ChuHoSo: 'Trần Thị Bình', SoDienThoai: '0987654321', MaTinh: '79' },
  QuaTrinhXuLy: [
    { NoiDungXuLy: 'Tiếp nhận hồ sơ', TrangThai: '2', PhongBanXuLy: 'Bộ phận một cửa', DiaChi: '12 Lê Lợi, Quận 1' },
    { NoiDungXuLy: 'Chuyển xử lý', TrangThai: '4', ChuHoSo: { HoTen: 'Nguyễn Văn An' } },
  ],
});

describe('a dead letter keeps the raw payload with personal fields redacted', () => {
  const [letter] = mapItems(passThrough, [item], origin()).deadLetters;

  it('is a dead letter for the dossier', () => {
    expect(letter).toMatchObject({ reason: 'unknown_status', dossierCode: 'H56.2026.000777' });
  });

  it('redacts personal fields at the top level', () => {
    const raw = letter!.rawPayload as Record<string, unknown>;
    expect(raw.ChuHoSo).toBe('[personal data]');
    expect(raw.SoGiayToChuHoSo).toBe('[personal data]');
    expect(raw.SoDienThoai).toBe('[personal data]');
    expect(raw.DiaChi).toBe('[personal data]');
    expect(raw.Email).toBe('[personal data]');
    expect(raw.DinhDanhCHS).toBe('[personal data]');
  });

  it('redacts personal fields nested in objects and arrays', () => {
    const raw = letter!.rawPayload as {
      ThongTinNguoiNop: Record<string, unknown>;
      QuaTrinhXuLy: Record<string, unknown>[];
    };
    expect(raw.ThongTinNguoiNop).toEqual({
      ChuHoSo: '[personal data]',
      SoDienThoai: '[personal data]',
      MaTinh: '[text: 2 characters]',
    });
    expect(raw.QuaTrinhXuLy[0]).toEqual({
      NoiDungXuLy: '[text: 15 characters]',
      TrangThai: '[text: 1 character]',
      PhongBanXuLy: '[text: 15 characters]',
      DiaChi: '[personal data]',
    });
    expect(raw.QuaTrinhXuLy[1]).toEqual({
      NoiDungXuLy: '[text: 12 characters]',
      TrangThai: '[text: 1 character]',
      ChuHoSo: '[personal data]',
    });
  });

  it('keeps the fields the connector maps as received, and the keys (with the shape of the values) of the rest', () => {
    const raw = letter!.rawPayload as Record<string, unknown>;
    expect(raw.dossierCode).toBe('H56.2026.000777');
    expect(raw.procedureCode).toBe('2.000477');
    expect(raw.status).toBe(99);
    expect(raw.submittedAt).toBe('2026-11-20T01:30:00.000Z'); // kept as JSON writes it
    // The passThrough connector maps the canonical names only: the vendor's own names keep their shape.
    expect(raw.MaHoSo).toBe('[text: 15 characters]');
    expect(raw.TrangThaiHoSo).toBe('[text: 2 characters]');
    expect(Object.keys(raw).sort()).toEqual(Object.keys(item).sort());
  });

  it('no personal value appears anywhere in the dead letter', () => {
    const stored = JSON.stringify(letter);
    for (const value of personalValues) expect(stored).not.toContain(value);
  });

  it('does not change the item it was given', () => {
    expect((item as unknown as Record<string, unknown>).ChuHoSo).toBe('Nguyễn Văn An');
  });

  it('a record stored from an item with personal fields carries none of them', () => {
    const { records } = mapItems(passThrough, [{ ...item, status: 4 }], origin());
    expect(records).toHaveLength(1);
    const stored = JSON.stringify(records[0]);
    for (const value of personalValues) expect(stored).not.toContain(value);
    expect(Object.keys(records[0]!)).not.toContain('ChuHoSo');
  });
});

describe('personal fields in every vendor dialect', () => {
  it('are redacted whatever their casing or separators', async () => {
    const { redactPersonalData } = await import('../../../connectors/sdk/personal-data.js');
    const { MappedPaths } = await import('../../../connectors/sdk/mapped-paths.js');
    const redacted = redactPersonalData(
      {
        ma_ho_so: '92.2026.000001',
        nguoi_nop: { ho_ten: 'Đỗ Ngọc Phúc', so_cccd: '079245017124' },
        applicant: { fullName: 'Trần Thị Bình', identityNumber: '079123456789', phone: '0912', address: 'x' },
        NguoiNop: { HoTen: 'Lê Văn C', SoDinhDanh: '001', DienThoai: '09', DiaChi: 'y' },
        ho_ten: 'A',
        dien_thoai: '1',
        dia_chi: 'z',
        so_cccd: '2',
      },
      new MappedPaths([{ field: 'dossierCode', path: 'ma_ho_so' }]),
    );
    const text = JSON.stringify(redacted);
    for (const value of ['Phúc', '079245017124', 'Bình', '079123456789', 'Lê Văn C', '"A"', '"z"'])
      expect(text).not.toContain(value);
    expect(text).toContain('92.2026.000001');
  });
});
