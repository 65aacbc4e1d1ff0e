import { describe, expect, it } from 'vitest';
import { declarativeConfig } from '../../../connectors/declarative/declarative-config.js';
import { RecordMapper } from '../../../connectors/declarative/record-mapper.js';
import { DefinitionError } from '../../../connectors/sdk/definition-error.js';
import { parseDefinition } from '../../../workers/control-plane/definition.js';
import { catchMappingError } from '../catch-mapping-error.js';
import { validDefinition } from './valid-definition.js';

const nfc = (text: string) => text.normalize('NFC');
const nfd = (text: string) => text.normalize('NFD');

/**
 * A mapper whose value maps are written as `keys` says (NFC or NFD), as a definition file saved by any editor may be.
 */
function mapper(keys: (text: string) => string, extra: Record<string, unknown> = {}): RecordMapper {
  const config = declarativeConfig.parse({
    http: { baseUrl: 'https://motcua.example.gov.vn' },
    request: { path: '/records' },
    records: { path: 'data' },
    fields: {
      dossierCode: 'code',
      status: 'state',
      sourceUpdatedAt: { path: 'updatedAt', format: 'iso' },
      channel: {
        path: 'kenh',
        map: { [keys('Trực tiếp')]: 1, [keys('Trực tuyến')]: 2, [keys('Bưu chính công ích')]: 3 },
      },
      applicantType: {
        path: 'doiTuong',
        map: { [keys('Công dân')]: 1, [keys('Doanh nghiệp')]: 2, [keys('Cơ quan nhà nước')]: 3, [keys('Tổ chức')]: 4 },
      },
      provinceCodeSet: { path: 'boMa', map: { [keys('Mã mới')]: '2025', [keys('Mã cũ')]: '2008' } },
      ...extra,
    },
    statuses: { preset: 'english' },
  });
  return new RecordMapper(config);
}

const record = (overrides: Record<string, unknown>) => ({
  code: 'H56.2026.1',
  state: 'done',
  updatedAt: '2026-11-27T08:00:00+07:00',
  kenh: 'Trực tuyến',
  doiTuong: 'Công dân',
  boMa: 'Mã mới',
  ...overrides,
});

describe('a vendor value is compared with a value map after Unicode NFC and trimming, on both sides', () => {
  for (const [written, keys] of [
    ['NFC', nfc],
    ['NFD', nfd],
  ] as const) {
    for (const [sent, value] of [
      ['NFC', nfc],
      ['NFD', nfd],
    ] as const) {
      it(`a definition written in ${written} maps a vendor's ${sent} text`, () => {
        const mapped = mapper(keys).map(
          record({ kenh: value('Trực tuyến'), doiTuong: value('Doanh nghiệp'), boMa: value('Mã cũ') }),
        );
        expect(mapped).toMatchObject({ channel: 2, applicantType: 2, provinceCodeSet: '2008' });
      });
    }
  }

  it('maps NFD and NFC text to the same code for every entry', () => {
    const source = mapper(nfc);
    for (const [label, code] of [
      ['Trực tiếp', 1],
      ['Trực tuyến', 2],
      ['Bưu chính công ích', 3],
    ] as const) {
      expect(source.map(record({ kenh: nfd(label) })).channel).toBe(code);
      expect(source.map(record({ kenh: nfc(label) })).channel).toBe(code);
    }
  });

  it('ignores white space around the vendor value and around the definition key, even with trim: false', () => {
    const source = mapper(nfc, { channel: { path: 'kenh', trim: false, map: { ' Trực tuyến\t': 2, Direct: 1 } } });
    expect(source.map(record({ kenh: `\u00a0${nfd('Trực tuyến')}  \n` })).channel).toBe(2);
    expect(source.map(record({ kenh: ' Direct ' })).channel).toBe(1);
    expect(source.map(record({ doiTuong: `  ${nfd('Tổ chức')} ` })).applicantType).toBe(4);
  });

  it('still refuses a value that is not in the map, as bad_value listing what is accepted', () => {
    const error = catchMappingError(() => mapper(nfd).map(record({ kenh: 'Qua bưu điện' })));
    expect(error.reason).toBe('bad_value');
    expect(error.message).toContain('kenh');
    // The accepted values are listed as the definition means them (NFC), quoted so white space shows.
    expect(error.message).toContain(
      `expected one of "${nfc('Trực tiếp')}", "${nfc('Trực tuyến')}", "${nfc('Bưu chính công ích')}"`,
    );
  });

  it('compares statuses the same way, when case matters too', () => {
    const config = declarativeConfig.parse({
      http: { baseUrl: 'https://motcua.example.gov.vn' },
      request: { path: '/records' },
      records: { path: 'data' },
      fields: {
        dossierCode: 'code',
        status: { path: 'state', trim: false },
        sourceUpdatedAt: { path: 'updatedAt', format: 'iso' },
      },
      statuses: { map: { [nfd('Đã trả kết quả')]: 10, TT04: 4 }, ignoreCase: false },
    });
    const source = new RecordMapper(config);
    expect(source.map(record({ state: ` ${nfc('Đã trả kết quả')} ` })).status).toBe(10);
    expect(source.map(record({ state: 'TT04\t' })).status).toBe(4);
    expect(catchMappingError(() => source.map(record({ state: 'tt04' }))).reason).toBe('unknown_status');
  });

  it('maps a number sent by the vendor as its text', () => {
    expect(mapper(nfc, { channel: { path: 'kenh', map: { '1': 1, '2': 2 } } }).map(record({ kenh: 2 })).channel).toBe(
      2,
    );
  });
});

describe('a value map whose keys are one text after NFC and trimming, with different codes, is refused when the definition loads', () => {
  it('names the field and both keys', () => {
    const definition = validDefinition();
    (definition.fields as Record<string, unknown>).channel = {
      path: 'kenh',
      map: { [nfc('Trực tuyến')]: 2, [`${nfd('Trực tuyến')} `]: 3 },
    };
    let problems: string[] = [];
    try {
      parseDefinition(definition);
    } catch (error) {
      if (!(error instanceof DefinitionError)) throw error;
      problems = error.problems;
    }
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^fields\.channel\.map: .* and .* are the same text after Unicode NFC and trimming but map to 2 and 3; keep one$/,
    );
  });

  it('accepts such keys when they map to the same code', () => {
    const definition = validDefinition();
    (definition.fields as Record<string, unknown>).channel = {
      path: 'kenh',
      map: { [nfc('Trực tuyến')]: 2, [nfd('Trực tuyến')]: 2 },
    };
    expect(() => parseDefinition(definition)).not.toThrow();
  });
});
