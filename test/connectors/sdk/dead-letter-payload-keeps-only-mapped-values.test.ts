import { describe, expect, it } from 'vitest';
import { DeclarativeConnector } from '../../../connectors/declarative/declarative-connector.js';
import { declarativeConfig } from '../../../connectors/declarative/declarative-config.js';
import type { Connector, FieldSource } from '../../../connectors/sdk/connector.js';
import { MappingError } from '../../../connectors/sdk/mapping-error.js';
import { mapItems } from '../../../connectors/sdk/normalise.js';
import { isPersonalKey } from '../../../connectors/sdk/personal-data.js';
import { origin } from './normalise-fixtures.js';

// A dead letter keeps its raw payload by allow-list: the scalar values at the paths the connector maps (the
// canonical record has no personal field), and for everything else only its shape — whatever the payload's
// shape, and whatever its keys are called.

const name = 'Nguyễn Thị Sentinhoa';
const nfd = (text: string) => text.normalize('NFD');
const nameNfd = nfd('Trần Văn Sentinminh');
const idNumber = '079188777111';
const phone = '0912777333';
const address = '27 phố Sentineladdr, Hoàn Kiếm';
const email = 'sentinel.mail@example.vn';
const personal = [
  name,
  nameNfd,
  nameNfd.normalize('NFC'),
  idNumber,
  phone,
  address,
  email,
  'Sentinhoa',
  'Sentinminh',
  '188777',
  '777333',
  'Sentineladdr',
  'sentinel.mail',
];

const fields: FieldSource[] = [
  { field: 'dossierCode', path: 'MaHoSo' },
  { field: 'status', path: 'TrangThaiHoSo' },
  { field: 'dueAt', path: 'ThoiHan.NgayHenTra' },
  { field: 'agencyCode', path: 'DonVi.0.Ma' },
  // Through a personal-looking key: its own key is not one, so the value is kept.
  { field: 'applicantType', path: 'ChuHoSo.Loai' },
  // Personal by mistake: mapped, but never kept.
  { field: 'channel', path: 'SoDienThoai' },
];
/** A connector that rejects every record, so each item becomes a dead letter. */
const rejecting: Pick<Connector, 'map' | 'mappedFields'> = {
  map: () => {
    throw new MappingError('unknown_status', 'TrangThaiHoSo: not a national status code', 'H56.1');
  },
  mappedFields: () => fields,
};
const kept = (item: unknown) => mapItems(rejecting, [item], origin()).deadLetters[0]!.rawPayload;
const expectNoPersonalData = (value: unknown) => {
  const text = JSON.stringify(value) ?? '';
  for (const sentinel of personal) expect(text).not.toContain(sentinel);
};

describe('an object keeps the values of its mapped fields and the shape of the rest', () => {
  it('keeps mapped scalars verbatim, replaces every other value by its type (and length for text)', () => {
    const item = {
      MaHoSo: 'H56.1',
      TrangThaiHoSo: '99',
      GhiChu: `${name}, ${phone}`,
      x1: idNumber,
      SoLuong: 3,
      DaNop: true,
      Rong: null,
      Trong: '',
    };
    expect(kept(item)).toEqual({
      MaHoSo: 'H56.1',
      TrangThaiHoSo: '99',
      GhiChu: '[text: 32 characters]',
      x1: '[text: 12 characters]',
      SoLuong: '[number]',
      DaNop: '[boolean]',
      Rong: null,
      Trong: '',
    });
  });

  it('keeps mapped values nested in objects and at an array index, and only there', () => {
    const item = {
      MaHoSo: 'H56.1',
      ThoiHan: { NgayHenTra: '20261204170000', NgayNop: '20261120083000', NguoiHen: name },
      DonVi: [{ Ma: '000.00.01.H56', Ten: 'Sở Tư pháp' }, { Ma: phone }],
    };
    expect(kept(item)).toEqual({
      MaHoSo: 'H56.1',
      ThoiHan: { NgayHenTra: '20261204170000', NgayNop: '[text: 14 characters]', NguoiHen: '[personal data]' },
      DonVi: [{ Ma: '000.00.01.H56', Ten: '[text: 10 characters]' }, { Ma: '[text: 10 characters]' }],
    });
  });

  it('says "personal data" for a personal-looking key, even one a definition maps by mistake', () => {
    const item = { MaHoSo: 'H56.1', SoDienThoai: phone, ChuHoSo: { Loai: '1', HoTen: name, DiaChi: address } };
    expect(kept(item)).toEqual({
      MaHoSo: 'H56.1',
      SoDienThoai: '[personal data]',
      ChuHoSo: { Loai: '1', HoTen: '[personal data]', DiaChi: '[personal data]' },
    });
  });

  it('keeps no value under a mapped path that holds an object or a list instead of a value', () => {
    const item = { MaHoSo: ['H56.1', name], TrangThaiHoSo: { Ma: '4', NguoiCapNhat: nameNfd } };
    expect(kept(item)).toEqual({
      MaHoSo: ['[text: 5 characters]', '[text: 20 characters]'],
      TrangThaiHoSo: { Ma: '[text: 1 character]', NguoiCapNhat: '[personal data]' },
    });
  });

  it('keys that are data (numbers, names, addresses) are replaced too; field names are kept', () => {
    const item = {
      MaHoSo: 'H56.1',
      [phone]: 'x',
      [name]: { HoTen: name },
      [email]: 1,
      [`${idNumber}`]: true,
      ghi_chu: 'y',
    };
    const result = kept(item) as Record<string, unknown>;
    expectNoPersonalData(Object.keys(result));
    expect(result).toMatchObject({ MaHoSo: 'H56.1', ghi_chu: '[text: 1 character]' });
    expect(Object.keys(result)).toHaveLength(6);
    // The e-mail address used as a key also looks personal by the key list.
    expect(Object.values(result).sort()).toEqual(
      [
        'H56.1',
        '[boolean]',
        '[personal data]',
        '[text: 1 character]',
        '[text: 1 character]',
        { HoTen: '[personal data]' },
      ].sort(),
    );
  });
});

describe('a record that is not an object keeps only its shape', () => {
  it.each([
    ['a string', `${name}, CCCD ${idNumber}`, '[text: 39 characters]'],
    ['an NFD string', nameNfd, `[text: ${[...nameNfd].length} characters]`],
    ['a number', 79188777111, '[number]'],
    ['true', true, '[boolean]'],
    ['null', null, null],
    ['an empty string', '', ''],
  ])('%s', (_case, item, expected) => {
    expect(kept(item)).toEqual(expected);
  });

  it('an array of values', () => {
    expect(kept(['H56.1', name, idNumber, 912777333, null, address, email])).toEqual([
      '[text: 5 characters]',
      '[text: 20 characters]',
      '[text: 12 characters]',
      '[number]',
      null,
      '[text: 30 characters]',
      '[text: 24 characters]',
    ]);
  });

  it("an array of objects: the mapped paths are the record's own, not its elements'", () => {
    expect(kept([{ MaHoSo: 'H56.1', HoTen: name }, { SoDienThoai: phone }])).toEqual([
      { MaHoSo: '[text: 5 characters]', HoTen: '[personal data]' },
      { SoDienThoai: '[personal data]' },
    ]);
  });

  it('values a code plugin may hand over (undefined, bigint, a function) keep only their type', () => {
    const result = kept({ MaHoSo: 'H56.1', a: undefined, b: 79188777111n, c: () => phone }) as Record<string, unknown>;
    expect(result).toEqual({ MaHoSo: 'H56.1', a: undefined, b: '[bigint]', c: '[function]' });
  });
});

describe('hostile shapes', () => {
  it('__proto__ and constructor keys stay plain keys: nothing reaches a prototype', () => {
    const item = JSON.parse(
      `{"MaHoSo":"H56.1","__proto__":{"HoTen":"${name}","polluted":true},"constructor":{"prototype":{"x":"${phone}"}}}`,
    ) as unknown;
    const result = kept(item) as Record<string, unknown>;
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
    expect(Object.keys(result)).toEqual(['MaHoSo', '__proto__', 'constructor']);
    expect(JSON.parse(JSON.stringify(result))).toEqual(
      JSON.parse(
        '{"MaHoSo":"H56.1","__proto__":{"HoTen":"[personal data]","polluted":"[boolean]"},"constructor":{"prototype":{"x":"[text: 10 characters]"}}}',
      ),
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expectNoPersonalData(result);
  });

  it('a record nested 10,000 deep is cut at 64 levels, without a stack overflow', () => {
    let deep: unknown = { SoDienThoai: phone, x: idNumber };
    for (let level = 0; level < 10_000; level += 1) deep = level % 2 === 0 ? [deep] : { a: deep };
    const result = kept({ MaHoSo: 'H56.1', deep });
    expectNoPersonalData(result);
    const text = JSON.stringify(result);
    expect(text).toContain('too deep to show');
    expect(text.length).toBeLessThan(2_000);
  });

  it('a deep record within the limit keeps its shape down to the last level', () => {
    let deep: unknown = { NguoiXuLy: nameNfd, ghiChu: email };
    for (let level = 0; level < 40; level += 1) deep = { lichSu: deep };
    let result = (kept({ MaHoSo: 'H56.1', deep }) as Record<string, unknown>).deep;
    for (let level = 0; level < 40; level += 1) result = (result as Record<string, unknown>).lichSu;
    expect(result).toEqual({ NguoiXuLy: '[personal data]', ghiChu: '[text: 24 characters]' });
  });

  it('a huge record keeps a bounded shape, and its mapped values wherever they are', () => {
    const item: Record<string, unknown> = {};
    for (let index = 0; index < 50_000; index += 1) item[`k${index}`] = phone;
    item.GhiChu = `${name} `.repeat(50_000);
    item.DanhSach = Array.from({ length: 200_000 }, () => idNumber);
    item.MaHoSo = 'H56.1';
    item.TrangThaiHoSo = '99';
    const result = kept(item) as Record<string, unknown>;
    expect(result).toMatchObject({ MaHoSo: 'H56.1', TrangThaiHoSo: '99' });
    const text = JSON.stringify(result);
    expect(text.length).toBeLessThan(1_000_000);
    expect(text).toMatch(/\[… \d+ more keys\]/);
    expectNoPersonalData(result);
  });

  it('a huge list is shown up to a bound, then counted', () => {
    const result = kept(Array.from({ length: 100_000 }, (_, index) => `${phone}-${index}`)) as unknown[];
    expect(result.length).toBeLessThan(20_000);
    expect(result.at(-1)).toMatch(/^\[… \d+ more items\]$/);
    expect(result[0]).toBe('[text: 12 characters]');
    expectNoPersonalData(result);
  });

  it('never changes the item it was given', () => {
    const item = { MaHoSo: 'H56.1', HoTen: name, list: [phone] };
    kept(item);
    expect(item).toEqual({ MaHoSo: 'H56.1', HoTen: name, list: [phone] });
  });
});

describe('the key list behind the allow-list names the common vendor spellings', () => {
  it.each([
    'HoVaTen',
    'HoTen',
    'ho_ten',
    'TenCongDan',
    'TenNguoiNop',
    'ChuHoSo',
    'NguoiNop',
    'NguoiXuLy',
    'NguoiDaiDien',
    'CanBoXuLy',
    'SoHoChieu',
    'HoChieu',
    'passportNumber',
    'MaDinhDanh',
    'SoDinhDanh',
    'DinhDanhCHS',
    'SoCCCD',
    'so_cmnd',
    'SoGiayToChuHoSo',
    'identityNumber',
    'nationalId',
    'MaSoThue',
    'mobile',
    'MobilePhone',
    'SoDienThoai',
    'DienThoai',
    'SDT',
    'SoDiDong',
    'phone',
    'tel',
    'fax',
    'zalo',
    'Email',
    'e_mail',
    'ThuDienTu',
    'DiaChi',
    'DiaChiThuongTru',
    'NoiCuTru',
    'QueQuan',
    'address',
    'street',
    'NgaySinh',
    'NamSinh',
    'birthDate',
    'dateOfBirth',
    'dob',
    'GioiTinh',
    'gender',
    'DanToc',
    'TonGiao',
    'SoTaiKhoan',
    'fullName',
    'name',
    'firstName',
    'applicantName',
    'ownerName',
    'Họ và tên',
    'Số điện thoại',
    'Địa chỉ',
    nfd('Ngày sinh'),
  ])('%s is personal', (key) => {
    expect(isPersonalKey(key)).toBe(true);
  });

  it.each([
    'MaHoSo',
    'TrangThaiHoSo',
    'MaTinh',
    'MaTTHC',
    'MaLinhVuc',
    'DonViXuLy',
    'KenhThucHien',
    'LoaiDoiTuong',
    'NgayHenTra',
    'NgayCapNhat',
    'PhienBan',
    'TenThuTuc',
    'MaDinhDanhHoSo',
    'code',
    'state',
    'applicantKind',
    'applicantType',
    'procedure',
    'agency',
    'timeline',
    'updatedAt',
    'ma_ho_so',
    'trang_thai',
    'SoHoSo',
    'TrangThai',
  ])('%s is not', (key) => {
    expect(isPersonalKey(key)).toBe(false);
  });
});

describe('replay still works: a kept payload maps, under a fixed definition, to the record the original would give', () => {
  const definition = (statusMap: Record<string, number>) =>
    new DeclarativeConnector({
      id: 'replay-test',
      sourceProvinceCode: '79',
      sourceCodeSet: '2025',
      config: declarativeConfig.parse({
        http: { baseUrl: 'http://127.0.0.1:9' },
        request: { path: '/records' },
        records: { path: 'data' },
        fields: {
          dossierCode: 'code',
          status: 'state',
          procedureCode: 'procedure.code',
          channel: { path: 'channel', map: { online: 2 } },
          sourceUpdatedAt: { path: 'updatedAt', format: 'yyyyMMddHHmmss' },
          dueAt: { path: 'timeline.dueAt', format: 'iso' },
          sourceVersion: 'version',
        },
        statuses: { map: statusMap },
      }),
    });
  const item = {
    code: 'HCM-9',
    state: 'TT07',
    procedure: { code: '1.001234', name: 'Cấp phép' },
    channel: 'online',
    updatedAt: '20261127080000',
    timeline: { dueAt: '2026-12-04T17:00:00+07:00', submittedAt: '2026-11-20T08:30:00+07:00' },
    version: 12,
    applicant: { fullName: name, identityNumber: idNumber, phone },
  };

  it('the fixed definition maps the kept payload exactly as it maps the original', () => {
    const before = mapItems(definition({ TT04: 4 }), [item], origin('79'));
    expect(before.deadLetters.map((letter) => letter.reason)).toEqual(['unknown_status']);
    const stored = JSON.parse(JSON.stringify(before.deadLetters[0]!.rawPayload)) as unknown;
    expectNoPersonalData(stored);

    const fixed = definition({ TT04: 4, TT07: 7 });
    const replayed = mapItems(fixed, [stored], origin('79'));
    const original = mapItems(fixed, [item], origin('79'));
    expect(replayed.deadLetters).toEqual([]);
    expect(replayed.records).toEqual(original.records);
    expect(replayed.records[0]).toMatchObject({
      dossierCode: 'HCM-9',
      status: 7,
      procedureCode: '1.001234',
      channel: 2,
      sourceVersion: 12,
    });
  });
});
