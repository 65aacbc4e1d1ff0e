import { readFileSync } from 'node:fs';

/** The two province code sets: `2025` after Resolution 202/2025/QH15 (34 provinces), `2008` before it (63). */
export type CodeSet = '2025' | '2008';
export const codeSets: readonly CodeSet[] = ['2025', '2008'];

/** A current (2025) province or centrally-run city. */
export interface Province {
  code: string;
  name: string;
  kind: string;
  /** The 2008 codes this province absorbed. */
  formerCodes: string[];
}

/** A former (2008) province and the current province that succeeded it. */
export interface FormerProvince {
  code: string;
  name: string;
  successor: string;
}

interface CatalogueFile {
  codeSets: {
    '2025': { provinces: Province[] };
    '2008': { provinces: FormerProvince[] };
  };
}

const file = JSON.parse(readFileSync(new URL('./provinces.json', import.meta.url), 'utf8')) as CatalogueFile;

/** The 34 current provinces, in code order. */
export const currentProvinces: readonly Province[] = file.codeSets['2025'].provinces;
/** The 63 former provinces, in code order. */
export const formerProvinces: readonly FormerProvince[] = file.codeSets['2008'].provinces;

const currentByCode = new Map(currentProvinces.map((province) => [province.code, province]));
const formerByCode = new Map(formerProvinces.map((province) => [province.code, province]));

/** The current province a code of the given set belongs to today, or undefined for a code the set does not have. */
export function resolveProvince(code: string, codeSet: CodeSet): Province | undefined {
  if (codeSet === '2025') return currentByCode.get(code);
  const former = formerByCode.get(code);
  return former ? currentByCode.get(former.successor) : undefined;
}

/**
 * The current (2025) code of a connector's province, whatever code set its definition uses: the one meaning of
 * `provinceCode` outside a connector's own settings (queues, metric labels, failed batches, dead letters). A code
 * the set does not have stays as it is (a definition is validated before it is stored, so only a stale row has one).
 */
export function currentProvinceCode(code: string, codeSet: CodeSet): string {
  return resolveProvince(code, codeSet)?.code ?? code;
}

/** The current province with this code, or undefined. */
export function currentProvince(code: string): Province | undefined {
  return currentByCode.get(code);
}

/** The former (2008) province with this code, or undefined. */
export function formerProvince(code: string): FormerProvince | undefined {
  return formerByCode.get(code);
}
