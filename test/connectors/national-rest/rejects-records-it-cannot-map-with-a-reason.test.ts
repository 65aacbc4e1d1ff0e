import { describe, expect, it } from 'vitest';
import { mapNationalRecord } from '../../../connectors/national-rest/national-rest-connector.js';
import { mapItems } from '../../../connectors/sdk/normalise.js';
import { catchMappingError } from '../catch-mapping-error.js';
import { nationalRecord } from './national-record.js';

const code = '000.00.01.H56-261120-0001';

describe('mapNationalRecord rejects what it cannot map, naming the dossier and the field', () => {
  it.each(['99', '0', '11', 'processing', 'Đang xử lý', '', null])('TrangThaiHoSo %j is unknown_status', (status) => {
    const error = catchMappingError(() => mapNationalRecord(nationalRecord({ TrangThaiHoSo: status })));
    expect(error.reason).toBe('unknown_status');
    expect(error.dossierCode).toBe(code);
    expect(error.message).toContain('TrangThaiHoSo');
  });

  it('TrangThaiHoSo "99" names the value and what is expected', () => {
    const error = catchMappingError(() => mapNationalRecord(nationalRecord({ TrangThaiHoSo: '99' })));
    expect(error.message).toContain('"99"');
    expect(error.message).toContain('1 to 10');
  });

  it.each([
    ['NgayHenTra', '31/11/2026'],
    ['NgayHenTra', '20261131170000'],
    ['NgayHenTra', 20261204170000],
    ['NgayNopHoSo', '2026-11-20T08:30:00'],
    ['NgayTiepNhan', '20261320090000'],
    ['NgayKetThucXuLy', 'garbage'],
    ['NgayCapNhat', '20261127250000'],
    ['NgayHenTraMoi', '20261299170000'],
  ])('%s %j is bad_date naming the field and dossier', (name, value) => {
    const error = catchMappingError(() => mapNationalRecord(nationalRecord({ [name]: value })));
    expect(error.reason).toBe('bad_date');
    expect(error.message).toContain(name);
    expect(error.dossierCode).toBe(code);
  });

  it.each([undefined, null, '', '   ', 42])('MaHoSo %j is missing_field', (maHoSo) => {
    const error = catchMappingError(() => mapNationalRecord(nationalRecord({ MaHoSo: maHoSo })));
    expect(error.reason).toBe('missing_field');
    expect(error.message).toContain('MaHoSo');
    expect(error.dossierCode).toBeNull();
  });

  it('a missing NgayCapNhat is missing_field', () => {
    const error = catchMappingError(() => mapNationalRecord(nationalRecord({ NgayCapNhat: '' })));
    expect(error.reason).toBe('missing_field');
    expect(error.message).toContain('NgayCapNhat');
    expect(error.dossierCode).toBe(code);
  });

  it.each([
    ['KenhThucHien', 'online'],
    ['LoaiDoiTuong', 1.5],
    ['PhienBan', '7a'],
    ['MaTTHC', { code: '2.000477' }],
  ])('%s %j is bad_value', (name, value) => {
    const error = catchMappingError(() => mapNationalRecord(nationalRecord({ [name]: value })));
    expect(error.reason).toBe('bad_value');
    expect(error.message).toContain(name);
    expect(error.dossierCode).toBe(code);
  });

  it.each([null, 'text', 42, [nationalRecord()]])('%j is not a dossier: malformed_record', (raw) => {
    expect(catchMappingError(() => mapNationalRecord(raw)).reason).toBe('malformed_record');
  });

  it('no error message quotes the personal data the record carries', () => {
    const failing = [
      { TrangThaiHoSo: '99' },
      { NgayHenTra: 'x' },
      { NgayCapNhat: null },
      { KenhThucHien: 'online' },
      { MaHoSo: null },
    ];
    for (const overrides of failing) {
      const error = catchMappingError(() => mapNationalRecord(nationalRecord(overrides)));
      for (const value of ['Nguyễn Văn An', '001099012345', '0912345678', 'an.nguyen@example.vn', 'Lê Lợi']) {
        expect(error.message).not.toContain(value);
      }
    }
  });

  it('a negative PhienBan passes the mapper but becomes a bad_value dead letter in normalise', () => {
    const connector = { map: mapNationalRecord };
    const { records, deadLetters } = mapItems(connector, [nationalRecord({ PhienBan: -3 })], {
      connectorId: 'hcm-rest',
      sourceProvinceCode: '79',
      sourceCodeSet: '2025',
      observedAt: new Date('2026-11-27T03:00:00Z'),
    });
    expect(records).toEqual([]);
    expect(deadLetters[0]).toMatchObject({ reason: 'bad_value', dossierCode: code });
    expect(deadLetters[0]!.message).toContain('sourceVersion');
  });
});
