import type { DvcRecord, DvcRecordPage } from '../../../../../scripts/tools/simulator/dialects/dvc-dialect.js';

/** A raw request to `GET /dvc/v2/records`. */
export function requestDvc(
  baseUrl: string,
  query: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${baseUrl}/dvc/v2/records?${new URLSearchParams(query)}`, { headers });
}

/** One page and its `Link` header; fails the test on anything but 200. */
export async function fetchDvcPage(
  url: string,
  headers: Record<string, string> = {},
): Promise<DvcRecordPage & { link: string | null }> {
  const response = await fetch(url, { headers });
  if (response.status !== 200) throw new Error(`expected 200, got ${response.status}: ${await response.text()}`);
  return { ...((await response.json()) as DvcRecordPage), link: response.headers.get('link') };
}

/**
 * Reads a province to the end from the first page's query, following either `next_cursor` (passed back with
 * the same query) or the `Link` header's URL as is. Returns every record and how many pages it took.
 */
export async function readAllDvc(
  baseUrl: string,
  query: Record<string, string>,
  follow: 'next_cursor' | 'link',
): Promise<{ records: DvcRecord[]; pages: number }> {
  const records: DvcRecord[] = [];
  let url = `${baseUrl}/dvc/v2/records?${new URLSearchParams(query)}`;
  for (let pages = 1; ; pages++) {
    const page = await fetchDvcPage(url);
    records.push(...page.records);
    if (page.next_cursor === null) {
      if (page.link !== null) throw new Error('a last page must not carry a Link header');
      return { records, pages };
    }
    url =
      follow === 'link'
        ? linkTarget(page.link)
        : `${baseUrl}/dvc/v2/records?${new URLSearchParams({ ...query, cursor: page.next_cursor })}`;
  }
}

/** The URL of a `Link: <url>; rel="next"` header. */
export function linkTarget(link: string | null): string {
  const match = /^<([^>]+)>; rel="next"$/.exec(link ?? '');
  if (!match) throw new Error(`expected a Link header with rel="next", got ${JSON.stringify(link)}`);
  return match[1] as string;
}

/** A dvc status code TTnn back to the national code nn. */
export function nationalStatusOf(code: string): number {
  return Number(/^TT(\d{2})$/.exec(code)?.[1] ?? Number.NaN);
}
