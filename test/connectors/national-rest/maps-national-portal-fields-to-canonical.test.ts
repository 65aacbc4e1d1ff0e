import { describe, expect, it } from 'vitest';
import { mapNationalRecord } from '../../../connectors/national-rest/national-rest-connector.js';
import { nationalRecord } from './national-record.js';

const canonicalFields = new Set([
  'dossierCode',
  'altDossierCode',
  'provinceCode',
  'provinceCodeSet',
  'procedureCode',
  'sectorCode',
  'agencyCode',
  'channel',
  'applicantType',
  'status',
  'sourceStatus',
  'submittedAt',
  'receivedAt',
  'dueAt',
  'finishedAt',
  'returnedAt',
  'rejectedAt',
  'sourceUpdatedAt',
  'sourceVersion',
]);

describe('mapNationalRecord maps the national portal naming onto the canonical fields', () => {
  it('maps a full record', () => {
    expect(mapNationalRecord(nationalRecord())).toEqual({
      dossierCode: '000.00.01.H56-261120-0001',
      altDossierCode: 'HCM-2026-0001',
      provinceCode: '79',
      procedureCode: '2.000477.000.00.00.H56',
      sectorCode: 'G09-TP',
      agencyCode: '000.00.01.H56',
      channel: 2,
      applicantType: 1,
      status: 4,
      sourceStatus: '4',
      // yyyyMMddHHmmss is Vietnam time, UTC+7.
      submittedAt: new Date('2026-11-20T01:30:00Z'),
      receivedAt: new Date('2026-11-20T02:00:00Z'),
      dueAt: new Date('2026-12-04T10:00:00Z'),
      finishedAt: null,
      returnedAt: null,
      rejectedAt: null,
      sourceUpdatedAt: new Date('2026-11-27T01:00:00Z'),
      sourceVersion: 7,
    });
  });

  it('reads TrangThaiHoSo as text or as a number', () => {
    expect(mapNationalRecord(nationalRecord({ TrangThaiHoSo: '10' }))).toMatchObject({
      status: 10,
      sourceStatus: '10',
    });
    expect(mapNationalRecord(nationalRecord({ TrangThaiHoSo: 9 }))).toMatchObject({ status: 9, sourceStatus: '9' });
    expect(mapNationalRecord(nationalRecord({ TrangThaiHoSo: ' 1 ' }))).toMatchObject({ status: 1 });
  });

  it('reads KenhThucHien and LoaiDoiTuong as text or as numbers', () => {
    expect(mapNationalRecord(nationalRecord({ KenhThucHien: 3, LoaiDoiTuong: '2' }))).toMatchObject({
      channel: 3,
      applicantType: 2,
    });
    expect(mapNationalRecord(nationalRecord({ KenhThucHien: '', LoaiDoiTuong: null }))).toMatchObject({
      channel: null,
      applicantType: null,
    });
  });

  it('PhienBan is the source version, as a number or as digits', () => {
    expect(mapNationalRecord(nationalRecord({ PhienBan: '12' })).sourceVersion).toBe(12);
    expect(mapNationalRecord(nationalRecord({ PhienBan: 0 })).sourceVersion).toBe(0);
  });

  it('without PhienBan, the source version is NgayCapNhat in epoch milliseconds', () => {
    const record = nationalRecord();
    delete record.PhienBan;
    const mapped = mapNationalRecord(record);
    expect(mapped.sourceVersion).toBe(Date.UTC(2026, 10, 27, 1, 0, 0));
    expect(mapped.sourceVersion).toBe(mapped.sourceUpdatedAt.getTime());
    expect(mapNationalRecord(nationalRecord({ PhienBan: null, NgayCapNhat: '20261127080100' })).sourceVersion).toBe(
      Date.UTC(2026, 10, 27, 1, 1, 0),
    );
  });

  it('prefers the moved due date NgayHenTraMoi over NgayHenTra', () => {
    const mapped = mapNationalRecord(nationalRecord({ NgayHenTraMoi: '20261211170000' }));
    expect(mapped.dueAt).toEqual(new Date('2026-12-11T10:00:00Z'));
    expect(mapNationalRecord(nationalRecord({ NgayHenTraMoi: '' })).dueAt).toEqual(new Date('2026-12-04T10:00:00Z'));
  });

  it('maps the closing dates', () => {
    const mapped = mapNationalRecord(
      nationalRecord({
        TrangThaiHoSo: '10',
        NgayKetThucXuLy: '20261203160000',
        NgayTra: '20261204090000',
        NgayTuChoi: null,
      }),
    );
    expect(mapped.finishedAt).toEqual(new Date('2026-12-03T09:00:00Z'));
    expect(mapped.returnedAt).toEqual(new Date('2026-12-04T02:00:00Z'));
    expect(mapped.rejectedAt).toBeNull();
  });

  it('the canonical result has no personal field at all', () => {
    const mapped = mapNationalRecord(nationalRecord());
    for (const key of Object.keys(mapped)) {
      expect(canonicalFields.has(key), `unexpected field ${key}`).toBe(true);
    }
    const text = JSON.stringify(mapped);
    for (const value of [
      'Nguyễn Văn An',
      '001099012345',
      '0912345678',
      'an.nguyen@example.vn',
      'Lê Lợi',
      'Cán bộ một cửa',
    ]) {
      expect(text).not.toContain(value);
    }
  });
});
