import { describe, expect, it } from 'vitest';
import { currentProvince, currentProvinces, formerProvinces, resolveProvince } from '../../config/provinces.js';

describe('the province catalogue', () => {
  it('has 34 current and 63 former provinces, each code once', () => {
    expect(currentProvinces).toHaveLength(34);
    expect(formerProvinces).toHaveLength(63);
    expect(new Set(currentProvinces.map((province) => province.code)).size).toBe(34);
    expect(new Set(formerProvinces.map((province) => province.code)).size).toBe(63);
    for (const province of [...currentProvinces, ...formerProvinces]) expect(province.code).toMatch(/^\d{2}$/);
  });

  it('every former province has a current successor', () => {
    for (const former of formerProvinces) {
      expect(currentProvince(former.successor), `successor of ${former.code} ${former.name}`).toBeDefined();
    }
  });

  it('former codes listed by current provinces and successors of former provinces agree, each former code once', () => {
    const absorbed = currentProvinces.flatMap((province) =>
      province.formerCodes.map((code) => [code, province.code] as const),
    );
    expect(absorbed).toHaveLength(63);
    expect(new Map(absorbed)).toEqual(new Map(formerProvinces.map((former) => [former.code, former.successor])));
  });

  it('resolves every former code to its successor and every current code to itself', () => {
    for (const former of formerProvinces) expect(resolveProvince(former.code, '2008')?.code).toBe(former.successor);
    for (const current of currentProvinces) expect(resolveProvince(current.code, '2025')).toBe(current);
  });
});

describe('a code means a different province in each code set', () => {
  it('24 was Bắc Giang before the merger and is Bắc Ninh now', () => {
    expect(formerProvinces.find((province) => province.code === '24')?.name).toBe('Bắc Giang');
    expect(currentProvince('24')?.name).toBe('Bắc Ninh');
    // Former Bắc Giang was merged into the new Bắc Ninh, which took its code: both resolve to current 24.
    expect(resolveProvince('24', '2008')?.code).toBe('24');
    expect(resolveProvince('24', '2025')?.code).toBe('24');
  });

  it('27, former Bắc Ninh, resolves to current 24 in set 2008 and is unknown in set 2025', () => {
    expect(resolveProvince('27', '2008')?.name).toBe('Bắc Ninh');
    expect(resolveProvince('27', '2008')?.code).toBe('24');
    expect(resolveProvince('27', '2025')).toBeUndefined();
  });

  it('every reused code names a different province in each set', () => {
    const reused = ['15', '24', '44', '46', '52', '80', '82', '91'];
    for (const code of reused) {
      const former = formerProvinces.find((province) => province.code === code);
      expect(former, `former ${code}`).toBeDefined();
      expect(former!.name, `code ${code}`).not.toBe(currentProvince(code)?.name);
    }
  });

  it('a code of one set only resolves in that set', () => {
    const currentCodes = new Set(currentProvinces.map((province) => province.code));
    const formerOnly = formerProvinces.filter((province) => !currentCodes.has(province.code));
    expect(formerOnly.length).toBe(63 - 34);
    for (const former of formerOnly) {
      expect(resolveProvince(former.code, '2025')).toBeUndefined();
      expect(resolveProvince(former.code, '2008')).toBeDefined();
    }
    expect(resolveProvince('99', '2008')).toBeUndefined();
    expect(resolveProvince('99', '2025')).toBeUndefined();
  });
});
