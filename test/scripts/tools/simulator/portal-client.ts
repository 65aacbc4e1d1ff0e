import type { PortalDossierItem, TruthRow } from '../../../../scripts/tools/simulator/portal-wire-format.js';

/** One page of `GET /api/dossiers`. */
export interface DossierPage {
  items: PortalDossierItem[];
  hasMore: boolean;
}

/** Fetches one page; fails the test on anything but 200. */
export async function fetchPage(baseUrl: string, query: Record<string, string>): Promise<DossierPage> {
  const response = await fetch(`${baseUrl}/api/dossiers?${new URLSearchParams(query)}`);
  if (response.status !== 200) throw new Error(`expected 200, got ${response.status}: ${await response.text()}`);
  return (await response.json()) as DossierPage;
}

/**
 * Reads a province to the end the way a connector does: each page continues after the last item's
 * (NgayCapNhat, MaHoSo). Returns every item read and the cursor reached.
 */
export async function readAllPages(
  baseUrl: string,
  province: string,
  limit: number,
  from: { updatedSince: string; afterCode: string } | null = null,
): Promise<{ items: PortalDossierItem[]; cursor: { updatedSince: string; afterCode: string } | null }> {
  const items: PortalDossierItem[] = [];
  let cursor = from;
  for (;;) {
    const page = await fetchPage(baseUrl, { province, limit: String(limit), ...(cursor ?? {}) });
    items.push(...page.items);
    const last = page.items.at(-1);
    if (last) cursor = { updatedSince: last.NgayCapNhat, afterCode: last.MaHoSo };
    if (!page.hasMore) return { items, cursor };
  }
}

/** True when items are in cursor order: NgayCapNhat, then MaHoSo by plain string comparison. */
export function isInCursorOrder(items: readonly PortalDossierItem[]): boolean {
  return items.every((item, index) => {
    const previous = items[index - 1];
    if (!previous) return true;
    // yyyyMMddHHmmss is fixed-width, so string order is time order.
    return (
      previous.NgayCapNhat < item.NgayCapNhat ||
      (previous.NgayCapNhat === item.NgayCapNhat && previous.MaHoSo < item.MaHoSo)
    );
  });
}

/** The truth rows of one province, by dossier code. */
export function truthByCode(rows: Iterable<TruthRow>, province: string): Map<string, TruthRow> {
  const byCode = new Map<string, TruthRow>();
  for (const row of rows) if (row.provinceCode === province) byCode.set(row.dossierCode, row);
  return byCode;
}

/** A scope of a summary, as the tests write it: ISO times, optional code bounds. */
export interface TruthScope {
  updatedFrom: string;
  updatedTo: string;
  codeFrom?: string;
  codeTo?: string;
}

/** The truth rows of one province in a scope (update time in [from, to), code in [codeFrom, codeTo)), cursor order. */
export function truthInScope(rows: Iterable<TruthRow>, province: string, scope: TruthScope): TruthRow[] {
  const from = Date.parse(scope.updatedFrom);
  const to = Date.parse(scope.updatedTo);
  return [...rows]
    .filter((row) => {
      const at = Date.parse(row.updatedAt);
      return (
        row.provinceCode === province &&
        at >= from &&
        at < to &&
        (scope.codeFrom === undefined || row.dossierCode >= scope.codeFrom) &&
        (scope.codeTo === undefined || row.dossierCode < scope.codeTo)
      );
    })
    .sort((a, b) =>
      a.updatedAt !== b.updatedAt
        ? Date.parse(a.updatedAt) - Date.parse(b.updatedAt)
        : a.dossierCode < b.dossierCode
          ? -1
          : 1,
    );
}

/** The truth as `GET /_sim/truth` streams it. */
export async function fetchTruth(baseUrl: string): Promise<TruthRow[]> {
  const text = await (await fetch(`${baseUrl}/_sim/truth`)).text();
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as TruthRow);
}
