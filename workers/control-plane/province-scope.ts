import { currentProvince, currentProvinceCode, currentProvinces, type CodeSet } from '../../config/provinces.js';

// The one rule of province-bound keys (issue #12): a key bound to provinces reaches only what belongs to them, by
// current (2025) code; a connector registered in the 2008 code set belongs to its successor. Routes ask here and
// nowhere else.

/** A key as far as provinces go: its id (for messages) and the provinces it is bound to (null: national). */
export interface ProvinceBoundKey {
  id: string;
  provinces: readonly string[] | null;
}

/** Whether the key reaches this current (2025) province; no key (the CLI, an operator) reaches every province. */
export function holds(key: ProvinceBoundKey | null | undefined, provinceCode: string): boolean {
  return !key || key.provinces === null || key.provinces.includes(provinceCode);
}

/** The current (2025) province a connector belongs to, whatever code set its definition uses. */
export function connectorProvince(row: { province_code: string; code_set: string }): string {
  return currentProvinceCode(row.province_code, row.code_set as CodeSet);
}

/** The current provinces the key reaches, in code order: all 34 for a national key. */
export function heldProvinces(key: ProvinceBoundKey | null | undefined): string[] {
  return currentProvinces.map(({ code }) => code).filter((code) => holds(key, code));
}

/** Whether the key is bound to provinces (not national). */
export function isProvinceBound(key: ProvinceBoundKey | null | undefined): key is ProvinceBoundKey & {
  provinces: readonly string[];
} {
  return !!key && key.provinces !== null;
}

/** "API key 7 holds province 24 (Phú Thọ) only": what a refusal tells the key about itself, and nothing else. */
export function holdingPhrase(key: ProvinceBoundKey & { provinces: readonly string[] }): string {
  const named = key.provinces.map((code) => `${code} (${currentProvince(code)?.name ?? 'unknown'})`);
  return `API key ${key.id} holds ${named.length === 1 ? 'province' : 'provinces'} ${named.join(', ')} only`;
}

/** Why a province key may not ask for a province: its own provinces, and nothing of the other's data. */
export function notHeldDetail(key: ProvinceBoundKey & { provinces: readonly string[] }, provinceCode: string): string {
  const province = currentProvince(provinceCode);
  return `${holdingPhrase(key)}; province ${provinceCode}${province ? ` (${province.name})` : ''} is not among them`;
}
