import { describe, expect, it } from 'vitest';
import { DeclarativeConnector } from '../../../connectors/declarative/declarative-connector.js';
import { declarativeConfig } from '../../../connectors/declarative/declarative-config.js';
import { mapLgspDossier } from '../../../connectors/lgsp-soap/lgsp-soap-connector.js';
import { mapNationalRecord } from '../../../connectors/national-rest/national-rest-connector.js';
import type { Connector } from '../../../connectors/sdk/connector.js';
import type { DossierRecordInput } from '../../../connectors/sdk/dossier-record.js';
import { mapItems } from '../../../connectors/sdk/normalise.js';
import { quoteSourceValue } from '../../../connectors/sdk/personal-data.js';
import { input, origin } from './normalise-fixtures.js';

// A mapping error quotes a vendor value only when it was read from a field the connector maps and whose name does
// not look personal; otherwise it names the field and the value's shape. Quoted values are short and escaped.

const name = 'Nguyễn Thị Sentinhoa';
const nameNfd = 'Trần Văn Sentinminh'.normalize('NFD');
const passport = 'B7771113';
const phone = '0912777333';
const birth = 'ngày 17 tháng 5 Sentinbirth';
const personal = [
  name,
  nameNfd,
  nameNfd.normalize('NFC'),
  passport,
  phone,
  birth,
  'Sentinhoa',
  'Sentinminh',
  '7771113',
  '777333',
  'Sentinbirth',
];
const expectNoPersonalData = (text: string) => {
  for (const sentinel of personal) expect(text).not.toContain(sentinel);
};

describe('quoteSourceValue', () => {
  it('quotes a value from a mapped, non-personal field as JSON text', () => {
    expect(quoteSourceValue('99', 'TrangThaiHoSo')).toBe('"99"');
    expect(quoteSourceValue(99, 'TrangThaiHoSo')).toBe('99');
    expect(quoteSourceValue(true, 'state')).toBe('true');
    expect(quoteSourceValue(null, 'state')).toBe('null');
    expect(quoteSourceValue('TT07', ['timeline.dueAt', 'timeline.newDueAt'])).toBe('"TT07"');
  });

  it('shortens it to 40 characters, whole code points, and escapes quotes, control characters, NUL and lone surrogates', () => {
    expect(quoteSourceValue('9'.repeat(500), 'NgayHenTra')).toBe(`"${'9'.repeat(40)}…"`);
    expect(quoteSourceValue(`${'😀'.repeat(39)}😀😀`, 'x')).toBe(`"${'😀'.repeat(40)}…"`);
    expect(quoteSourceValue('a"b\n\u0000\ud800', 'x')).toBe('"a\\"b\\n\\u0000\\ud800"');
  });

  it('never quotes a value from a personal-looking field, nor one not read from a mapped field', () => {
    for (const [value, from] of [
      [name, 'HoVaTen'],
      [name, 'applicant.fullName'],
      [nameNfd, 'TenCongDan'],
      [passport, 'SoHoChieu'],
      [phone, ['KenhNop', 'mobile']],
      [phone, undefined],
      [phone, []],
    ] as const) {
      const shown = quoteSourceValue(value, from);
      expectNoPersonalData(shown);
      expect(shown).toMatch(/^a text of \d+ characters \(not shown/);
    }
    expect(quoteSourceValue(912777333, 'SoDienThoai')).toMatch(/^a number \(not shown/);
  });

  it('says that a replayed dead letter kept no value, rather than quoting its marker as data', () => {
    expect(quoteSourceValue('[text: 20 characters]', 'TrangThaiHoSo')).toBe(
      '[text: 20 characters] (a value the dead letter did not keep)',
    );
    expect(quoteSourceValue('[personal data]', 'HoTen')).toBe('[personal data] (a value the dead letter did not keep)');
  });

  it('never quotes a list or an object, whatever the field', () => {
    expect(quoteSourceValue([name, phone], 'TrangThaiHoSo')).toBe('a list of 2 items');
    expect(quoteSourceValue({ HoTen: name }, 'TrangThaiHoSo')).toBe('an object');
    expect(quoteSourceValue(undefined, 'TrangThaiHoSo')).toBe('nothing');
  });
});

describe('a declarative definition that maps personal fields by mistake never quotes them', () => {
  const mistaken = new DeclarativeConnector({
    id: 'mistaken',
    sourceProvinceCode: '79',
    sourceCodeSet: '2025',
    config: declarativeConfig.parse({
      http: { baseUrl: 'http://127.0.0.1:9' },
      request: { path: '/records' },
      records: { path: 'data' },
      fields: {
        dossierCode: 'code',
        status: 'TenCongDan',
        provinceCodeSet: 'HoVaTen',
        procedureCode: 'NguoiXuLy',
        channel: { path: 'mobile', map: { '1': 1, '2': 2 } },
        applicantType: 'SoHoChieu',
        submittedAt: { path: 'NgaySinh', format: 'dd/MM/yyyy' },
        sourceUpdatedAt: { path: 'updatedAt', format: 'yyyyMMddHHmmss' },
      },
      statuses: { preset: 'national' },
    }),
  });
  const record = (overrides: Record<string, unknown>) => ({
    code: 'HCM-1',
    TenCongDan: '4',
    updatedAt: '20261127080000',
    ...overrides,
  });

  it.each([
    ['status', { TenCongDan: name }, 'unknown_status', 'TenCongDan'],
    ['status (NFD)', { TenCongDan: nameNfd }, 'unknown_status', 'TenCongDan'],
    ['provinceCodeSet', { HoVaTen: name }, 'bad_value', 'HoVaTen'],
    ['channel through a map', { mobile: phone }, 'bad_value', 'mobile'],
    ['applicantType', { SoHoChieu: passport }, 'bad_value', 'SoHoChieu'],
    ['a date', { NgaySinh: birth }, 'bad_date', 'NgaySinh'],
    ['a date as a number', { NgaySinh: 912777333 }, 'bad_date', 'NgaySinh'],
  ])('%s', (_case, overrides, reason, field) => {
    const { deadLetters } = mapItems(mistaken, [record(overrides)], origin('79'));
    expect(deadLetters).toHaveLength(1);
    const [letter] = deadLetters;
    expect(letter!.reason).toBe(reason);
    expect(letter!.message).toContain(field);
    expect(letter!.message).toMatch(/not shown/);
    expectNoPersonalData(JSON.stringify(letter));
  });

  it('an object where text is expected is named by its shape only', () => {
    const [letter] = mapItems(mistaken, [record({ NguoiXuLy: { HoTen: name } })], origin('79')).deadLetters;
    expect(letter!.message).toBe('NguoiXuLy: expected text, got an object');
    expectNoPersonalData(JSON.stringify(letter));
  });

  it('a dossier code read from a personal-looking field is not put on the dead letter either', () => {
    const byMistake = new DeclarativeConnector({
      id: 'mistaken-code',
      sourceProvinceCode: '79',
      sourceCodeSet: '2025',
      config: declarativeConfig.parse({
        http: { baseUrl: 'http://127.0.0.1:9' },
        request: { path: '/records' },
        records: { path: 'data' },
        fields: {
          dossierCode: 'SoHoChieu',
          status: 'state',
          sourceUpdatedAt: { path: 'updatedAt', format: 'yyyyMMddHHmmss' },
        },
        statuses: { preset: 'national' },
      }),
    });
    const [letter] = mapItems(
      byMistake,
      [{ SoHoChieu: passport, state: '99', updatedAt: '20261127080000' }],
      origin('79'),
    ).deadLetters;
    expect(letter).toMatchObject({ reason: 'unknown_status', dossierCode: null });
    expect(letter!.message).toContain('"99"');
    expectNoPersonalData(JSON.stringify(letter));
  });
});

describe('values from mapped, non-personal fields are still quoted, so a provincial IT team can act', () => {
  it('declarative: an unmapped status, a value outside a map, a bad date, a bad number', () => {
    const connector = new DeclarativeConnector({
      id: 'ok',
      sourceProvinceCode: '79',
      sourceCodeSet: '2025',
      config: declarativeConfig.parse({
        http: { baseUrl: 'http://127.0.0.1:9' },
        request: { path: '/records' },
        records: { path: 'data' },
        fields: {
          dossierCode: 'code',
          status: 'state',
          channel: { path: 'channel', map: { online: 2 } },
          applicantType: 'kind',
          dueAt: { path: 'timeline.dueAt', format: 'iso' },
          sourceUpdatedAt: { path: 'updatedAt', format: 'yyyyMMddHHmmss' },
        },
        statuses: { preset: 'english' },
      }),
    });
    const base = { code: 'HCM-1', state: 'processing', updatedAt: '20261127080000' };
    const messages = mapItems(
      connector,
      [
        { ...base, state: 'teleported' },
        { ...base, channel: 'pigeon' },
        { ...base, timeline: { dueAt: 'soon' } },
        { ...base, kind: 'x7' },
      ],
      origin('79'),
    ).deadLetters.map((letter) => letter.message);
    expect(messages).toEqual([
      'state: "teleported" is not a status this definition maps; add it to statuses.map',
      'channel: "pigeon" is not a value this definition maps; expected one of "online" (compared after trimming, in Unicode NFC)',
      expect.stringMatching(/^timeline\.dueAt: "soon" is not a date in format iso/),
      'kind: expected a whole number, got "x7"',
    ]);
  });

  it('national-rest and lgsp-soap: their own fields', () => {
    const national = (overrides: Record<string, unknown>) => ({
      MaHoSo: 'H01-1',
      TrangThaiHoSo: '4',
      NgayCapNhat: '20261127080000',
      ...overrides,
    });
    const error = (map: () => unknown) => {
      try {
        map();
      } catch (caught) {
        return (caught as Error).message;
      }
      return 'no error';
    };
    expect(error(() => mapNationalRecord(national({ TrangThaiHoSo: '99' })))).toBe(
      'TrangThaiHoSo: "99" is not a national status code; expected 1 to 10',
    );
    expect(error(() => mapNationalRecord(national({ TrangThaiHoSo: 99 })))).toBe(
      'TrangThaiHoSo: 99 is not a national status code; expected 1 to 10',
    );
    expect(error(() => mapNationalRecord(national({ LoaiDoiTuong: 'abc' })))).toBe(
      'LoaiDoiTuong: expected a whole number, got "abc"',
    );
    expect(error(() => mapNationalRecord(national({ NgayHenTra: '20260231250000' })))).toMatch(
      /^NgayHenTra: "20260231250000" is not a date in format yyyyMMddHHmmss/,
    );
    const soap = { SoHoSo: 'H01-2', TrangThai: 'Đang xử lý', NgayCapNhat: '27/11/2026 08:00:00' };
    expect(error(() => mapLgspDossier({ ...soap, TrangThai: 'Bay đi' }))).toBe(
      'TrangThai: "Bay đi" is not a status label of the national list',
    );
    expect(error(() => mapLgspDossier({ ...soap, KenhNop: 'x' }))).toBe('KenhNop: expected a whole number, got "x"');
  });

  it("normalise quotes a connector's output only for a field read from a mapped, non-personal path", () => {
    const plugin = (path: string): Pick<Connector, 'map' | 'mappedFields'> => ({
      map: (item) => item as DossierRecordInput,
      mappedFields: () => [
        { field: 'dossierCode', path: 'MaHoSo' },
        { field: 'channel', path },
      ],
    });
    const item = input({ channel: 912777333 });
    expect(mapItems(plugin('KenhNop'), [item], origin()).deadLetters[0]!.message).toBe(
      'channel: expected a whole number from 1 to 3, got 912777333',
    );
    const hidden = mapItems(plugin('SoDienThoai'), [item], origin()).deadLetters[0]!.message;
    expect(hidden).toMatch(/^channel: expected a whole number from 1 to 3, got a number \(not shown/);
    expectNoPersonalData(hidden);
  });
});
