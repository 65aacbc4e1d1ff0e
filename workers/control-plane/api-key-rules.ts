import { currentProvince, resolveProvince } from '../../config/provinces.js';
import type { ProvinceBoundKey } from './province-scope.js';

// What a new key may be, for `fleet apikey create` and `POST /v1/admin/api-keys` alike: its name, the provinces it
// is bound to, and which keys a province key may create, see and revoke.

/** Why a key's name is refused (it names who uses the key, in lists and the audit trail), or null: it is fine. */
export function keyNameProblem(name: string): string | null {
  // eslint-disable-next-line no-control-regex
  if (name.length === 0 || name.length > 100 || /[\u0000-\u001f\u007f]/.test(name))
    return 'expected 1 to 100 characters without control characters, naming who uses the key';
  return null;
}

/**
 * Why codes cannot bind a key, one line per wrong code (empty: all are current 2025 codes). A former (2008) code
 * is refused with its successor, since a key is bound by current code (a connector of the 2008 code set belongs to
 * its successor).
 */
export function keyProvinceProblems(codes: readonly string[]): string[] {
  return codes.flatMap((code) => {
    if (currentProvince(code)) return [];
    const successor = /^\d{2}$/.test(code) ? resolveProvince(code, '2008') : undefined;
    return [
      successor
        ? `${code} is a former (2008) code, now part of ${successor.code} (${successor.name}); use ${successor.code}`
        : `${JSON.stringify(code)} is not a current (2025) province code`,
    ];
  });
}

/** A key's provinces as stored: each code once, in code order. */
export function keyProvinceList(codes: readonly string[]): string[] {
  return [...new Set(codes)].sort();
}

/**
 * Whether the asking key sees (and may revoke) a key: a national key sees every key; a province key only keys bound
 * to some of its own provinces — never a national key, nor one holding a province it does not hold. No asking key
 * (the CLI) sees every key.
 */
export function seesKey(
  asking: ProvinceBoundKey | null | undefined,
  key: { provinces: readonly string[] | null },
): boolean {
  if (!asking || asking.provinces === null) return true;
  const held = asking.provinces;
  return key.provinces !== null && key.provinces.every((code) => held.includes(code));
}
