import { describe, expect, it } from 'vitest';
import { mapItems, normalise } from '../../../connectors/sdk/normalise.js';
import { catchMappingError } from '../catch-mapping-error.js';
import { input, observedAt, origin, passThrough } from './normalise-fixtures.js';

const at = observedAt.toISOString();

describe('a province code is resolved in its own code set', () => {
  it('former 24 (Bắc Giang, set 2008) is stored under current 24 (Bắc Ninh), keeping its source code and set', () => {
    const record = normalise(input(), origin('24', '2008'), at);
    expect(record.provinceCode).toBe('24');
    expect(record.sourceProvinceCode).toBe('24');
    expect(record.sourceCodeSet).toBe('2008');
  });

  it('former 27 (Bắc Ninh, set 2008) is stored under current 24', () => {
    const record = normalise(input(), origin('27', '2008'), at);
    expect(record.provinceCode).toBe('24');
    expect(record.sourceProvinceCode).toBe('27');
    expect(record.sourceCodeSet).toBe('2008');
  });

  it('a record naming its own former province overrides the connector province', () => {
    // A 2025 connector for Hồ Chí Minh City receiving a record filed in former Bình Dương (74, set 2008).
    const record = normalise(input({ provinceCode: '74', provinceCodeSet: '2008' }), origin('79', '2025'), at);
    expect(record.provinceCode).toBe('79');
    expect(record.sourceProvinceCode).toBe('74');
    expect(record.sourceCodeSet).toBe('2008');
  });

  it('a record province code without a set is read in the connector set', () => {
    const record = normalise(input({ provinceCode: '27' }), origin('24', '2008'), at);
    expect(record).toMatchObject({ provinceCode: '24', sourceProvinceCode: '27', sourceCodeSet: '2008' });
  });

  it('a current code is stored as it is', () => {
    const record = normalise(input(), origin('79', '2025'), at);
    expect(record).toMatchObject({ provinceCode: '79', sourceProvinceCode: '79', sourceCodeSet: '2025' });
  });
});

describe('an unknown province code is a bad_province dead letter', () => {
  it.each<[string, '2025' | '2008']>([
    ['27', '2025'], // 27 exists only in the 2008 set
    ['74', '2025'],
    ['99', '2008'],
    ['00', '2025'],
    ['7', '2025'],
  ])('code %s in set %s', (code, codeSet) => {
    const error = catchMappingError(() => normalise(input(), origin(code, codeSet), at));
    expect(error.reason).toBe('bad_province');
    expect(error.message).toContain(code);
    expect(error.message).toContain(codeSet);
    expect(error.dossierCode).toBe('H56.2026.000001');
  });

  it('through mapItems, the record becomes a dead letter, not a record', () => {
    const { records, deadLetters } = mapItems(
      passThrough,
      [input({ provinceCode: '99' }), input({ dossierCode: 'ok' })],
      origin(),
    );
    expect(records.map((record) => record.dossierCode)).toEqual(['ok']);
    expect(deadLetters.map((letter) => letter.reason)).toEqual(['bad_province']);
  });
});
