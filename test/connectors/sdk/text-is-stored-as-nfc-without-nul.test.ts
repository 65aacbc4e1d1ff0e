import { describe, expect, it } from 'vitest';
import { mapItems, normalise } from '../../../connectors/sdk/normalise.js';
import { comparableText, normaliseText } from '../../../connectors/sdk/text.js';
import { catchMappingError } from '../catch-mapping-error.js';
import { input, observedAt, origin, passThrough } from './normalise-fixtures.js';

const at = observedAt.toISOString();

describe('normalise stores Vietnamese text in NFC', () => {
  // Text of code units below U+0300 skips ICU's normalisation: sound only if every such text is NFC already, which
  // holds when every character and every pair of them is (no character there combines with the one before).
  it('gives exactly what NFC gives for every character and pair of characters below the combining marks', () => {
    const differing: string[] = [];
    for (let first = 0; first < 0x300; first++) {
      const one = String.fromCharCode(first);
      for (const text of [one, ...Array.from({ length: 0x300 }, (_, second) => one + String.fromCharCode(second))])
        if (
          normaliseText(text) !== (text.normalize('NFC').trim() || null) ||
          comparableText(text) !== text.normalize('NFC').trim()
        )
          differing.push(JSON.stringify(text));
    }
    expect(differing.slice(0, 5)).toEqual([]);
    // The first combining mark takes the normalisation: a decomposed é after plain letters becomes one character.
    expect(normaliseText('A\u0300')).toBe('\u00c0');
    expect(normaliseText('HS-Nguye\u0302\u0303n')).toBe('HS-Nguyễn');
    expect(comparableText('Đang xu\u031b\u0309 ly\u0301')).toBe('Đang xử lý'.normalize('NFC'));
  });

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
    for (const value of [
      record.dossierCode,
      record.altDossierCode,
      record.procedureCode,
      record.sectorCode,
      record.agencyCode,
      record.sourceStatus,
    ]) {
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

describe('normalise refuses text Postgres cannot store, and blanks', () => {
  it('a NUL character in any mapped text field is bad_value naming the field, never silently dropped', () => {
    const fields = {
      dossierCode: 'H56\u0000.2026.01',
      altDossierCode: 'X\u0000',
      procedureCode: '2.000\u0000477',
      sectorCode: '\u0000',
      agencyCode: '\u0000000.00.01.H56',
      sourceStatus: '4\u0000',
      provinceCode: '79\u0000',
    };
    for (const [field, value] of Object.entries(fields)) {
      const error = catchMappingError(() => normalise(input({ [field]: value }), origin(), at));
      expect(error.reason, field).toBe('bad_value');
      expect(error.message, field).toMatch(
        new RegExp(`^${field}: contains U\\+0000 \\(NUL\\) at character \\d+, which cannot be stored`),
      );
    }
  });

  it('an unpaired surrogate is bad_value too, where a pair (an emoji) is text like any other', () => {
    for (const value of ['abc\uD800def', 'abc\uDC00', '\uDBFF']) {
      const error = catchMappingError(() => normalise(input({ procedureCode: value }), origin(), at));
      expect(error.reason).toBe('bad_value');
      expect(error.message).toMatch(
        /^procedureCode: contains an unpaired surrogate \(U\+D[89A-F][0-9A-F]{2}\) at character \d+, which cannot be stored/,
      );
    }
    expect(normalise(input({ procedureCode: '2.000477 \uD83D\uDE00' }), origin(), at).procedureCode).toBe(
      '2.000477 \uD83D\uDE00',
    );
  });

  it('the dead letter of such a record names the dossier with the character escaped, and keeps the payload exact', () => {
    const item = input({ dossierCode: 'H56\u0000.01', agencyCode: 'A\uD800' });
    const { records, deadLetters } = mapItems(passThrough, [item], origin());
    expect(records).toEqual([]);
    expect(deadLetters).toMatchObject([{ reason: 'bad_value', dossierCode: 'H56\\u0000.01' }]);
    expect(JSON.parse(JSON.stringify(deadLetters[0]!.rawPayload))).toMatchObject({ dossierCode: 'H56\u0000.01' });
  });

  it('a date outside the years Postgres stores is bad_date', () => {
    for (const dueAt of [new Date(Date.UTC(10000, 0, 1)), new Date(Date.UTC(-1, 0, 1))]) {
      const error = catchMappingError(() => normalise(input({ dueAt }), origin(), at));
      expect(error.reason).toBe('bad_date');
      expect(error.message).toMatch(/^dueAt: .* is outside the years 0001 to 9999/);
    }
  });

  it('trims, and stores blank text as null', () => {
    const record = normalise(input({ dossierCode: '  H56.01  ', procedureCode: '   ', sectorCode: '' }), origin(), at);
    expect(record.dossierCode).toBe('H56.01');
    expect(record.procedureCode).toBeNull();
    expect(record.sectorCode).toBeNull();
  });

  it('a dossier code that is blank is missing_field', () => {
    for (const dossierCode of ['   ', '']) {
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
