import { currentProvince, formerProvince, type Province } from '../../../config/provinces.js';
import { problem, type Problem } from '../problem.js';

/** How a province code of a request resolves. */
export type ProvinceResolution =
  | { kind: 'current'; province: Province }
  | { kind: 'former'; code: string; name: string; successor: Province }
  | { kind: 'unknown'; problem: Problem };

/**
 * A province code as the read API takes it: a current (2025) code, unless `codeSet` is `2008` or the code is only a
 * former one. Eight codes were reused for another province (domain.md): such a code means the current province
 * unless the request says `codeSet=2008`.
 */
export function resolveRequestProvince(code: string, codeSet: '2025' | '2008' | undefined): ProvinceResolution {
  const current = currentProvince(code);
  const former = formerProvince(code);
  if (codeSet !== '2008' && current) return { kind: 'current', province: current };
  if (codeSet !== '2025' && former) {
    const successor = currentProvince(former.successor);
    if (successor) return { kind: 'former', code, name: former.name, successor };
  }
  const expected = 'expected one of the 34 current (2025) codes, e.g. 01 (Hà Nội), 79 (Hồ Chí Minh)';
  const detail =
    codeSet === '2008'
      ? `province ${code} is not a former (2008) province code; ${expected}, or a former code with codeSet=2008`
      : former
        ? `province ${code} is not a current (2025) province code: it is the former code of ${former.name}, now ${former.successor}; use ${former.successor}`
        : `province ${code} is not a current (2025) province code; ${expected}`;
  return { kind: 'unknown', problem: problem('province_not_found', detail) };
}
