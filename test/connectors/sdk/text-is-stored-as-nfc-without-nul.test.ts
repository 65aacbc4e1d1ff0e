import { describe, expect, it } from 'vitest';
import { mapItems, normalise } from '../../../connectors/sdk/normalise.js';
import { catchMappingError } from '../catch-mapping-error.js';
import { input, observedAt, origin, passThrough } from './normalise-fixtures.js';

const at = observedAt.toISOString();

describe('normalise stores Vietnamese text in NFC', () => {
  it('turns decomposed (NFD) text into composed (NFC) text in every text field', () => {
    const nfd = (text: string) => text.normalize('NFD');
    expect(nfd('Nguyễn')).not.toBe('Nguyễn'.normalize('NFC'));

    const record = normalise(
      input({
        dossierCode: nfd('HS-Nguyễn-001'),
        altDossierCode: nfd('Hồ-sơ-khác'),
        procedureCode: nfd('2.000477.Nguyễn'),
        sectorCode: nfd('Lĩnh-vực'),
        agencyCode: nfd('Sở Tư pháp Nguyễn'),
        sourceStatus: nfd('Đang xử lý'),
      }),
      origin(),
      at,
    );
    expect(record.dossierCode).toBe('HS-Nguyễn-001'.normalize('NFC'));
    expect(record.altDossierCode).toBe('Hồ-sơ-khác'.normalize('NFC'));
    expect(record.procedureCode).toBe('2.000477.Nguyễn'.normalize('NFC'));
    expect(record.sectorCode).toBe('Lĩnh-vực'.normalize('NFC'));
    expect(record.agencyCode).toBe('Sở Tư pháp Nguyễn'.normalize('NFC'));
    expect(record.sourceStatus).toBe('Đang xử lý'.normalize('NFC'));
    for (const value of [record.dossierCode, record.altDossierCode, record.procedureCode, record.sectorCode, record.agencyCode, record.sourceStatus]) {
      expect(value!.normalize('NFC')).toBe(value);
    }
  });

  it('NFD and NFC spellings of one dossier code give the same stored code', () => {
    const { records } = mapItems(
      passThrough,
      [input({ dossierCode: 'Nguyễn-01'.normalize('NFD') }), input({ dossierCode: 'Nguyễn-01'.normalize('NFC') })],
      origin(),
    );
    expect(records).toHaveLength(2);
    expect(records[0]!.dossierCode).toBe(records[1]!.dossierCode);
  });
});

describe('normalise removes NUL characters and blanks', () => {
  it('drops NUL characters Postgres would refuse', () => {
    const record = normalise(
      input({ dossierCode: 'H56\u0000.2026.01', procedureCode: '2.000\u0000477', agencyCode: '\u0000000.00.01.H56\u0000', sourceStatus: '4\u0000' }),
      origin(),
      at,
    );
    expect(record.dossierCode).toBe('H56.2026.01');
    expect(record.procedureCode).toBe('2.000477');
    expect(record.agencyCode).toBe('000.00.01.H56');
    expect(record.sourceStatus).toBe('4');
    expect(JSON.stringify(record)).not.toContain('\\u0000');
  });

  it('replaces a lone surrogate instead of storing invalid text', () => {
    const record = normalise(input({ procedureCode: 'abc\uD800def' }), origin(), at);
    expect(record.procedureCode!.isWellFormed()).toBe(true);
  });

  it('trims, and stores blank text as null', () => {
    const record = normalise(input({ dossierCode: '  H56.01  ', procedureCode: '   ', sectorCode: '\u0000' }), origin(), at);
    expect(record.dossierCode).toBe('H56.01');
    expect(record.procedureCode).toBeNull();
    expect(record.sectorCode).toBeNull();
  });

  it('a dossier code that is only NUL or blank is missing_field', () => {
    for (const dossierCode of ['\u0000', '   ', '']) {
      expect(catchMappingError(() => normalise(input({ dossierCode }), origin(), at)).reason).toBe('missing_field');
    }
  });

  it('text fields that are not text, or too long, are bad_value naming the field', () => {
    const notText = catchMappingError(() => normalise(input({ agencyCode: 12 }), origin(), at));
    expect(notText.reason).toBe('bad_value');
    expect(notText.message).toContain('agencyCode');
    const tooLong = catchMappingError(() => normalise(input({ procedureCode: 'x'.repeat(101) }), origin(), at));
    expect(tooLong.reason).toBe('bad_value');
    expect(tooLong.message).toContain('procedureCode');
  });
});
