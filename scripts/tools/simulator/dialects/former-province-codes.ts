import { currentProvince, type CodeSet } from '../../../../config/provinces.js';
import { deriveSeed } from '../seeded-random.js';
import type { SimulatedDossier } from '../simulated-dossier.js';

/** A province code together with the code set it belongs to: the pair that says which province is meant. */
export interface SourceProvince {
  code: string;
  codeSet: CodeSet;
}

/**
 * The province code a merged province's system files a dossier under. Such a system still holds dossiers
 * received before the 1 July 2025 merger under the former (2008) province that received them; here about
 * half the dossiers, chosen by a hash of the dossier code so every request agrees, carry one of the current
 * province's former codes, the rest the current code. A province missing from config/provinces.json (any
 * two-digit code is a valid simulator option) always carries its current code.
 *
 * The former code can equal the current one (Hà Nội was 01 and is 01) or belong to a different province
 * today (former 24 was Bắc Giang, current 24 is Bắc Ninh): only the code set tells them apart.
 */
export function sourceProvinceOf(dossier: SimulatedDossier): SourceProvince {
  const formerCodes = currentProvince(dossier.provinceCode)?.formerCodes ?? [];
  const hash = deriveSeed(0, dossier.code);
  if (formerCodes.length === 0 || hash % 2 === 0) return { code: dossier.provinceCode, codeSet: '2025' };
  return { code: formerCodes[(hash >>> 1) % formerCodes.length] as string, codeSet: '2008' };
}
