import { afterEach, describe, expect, it } from 'vitest';
import { parseSourceDate } from '../../../../../connectors/sdk/dates.js';
import { englishStatusWords } from '../../../../../connectors/sdk/dossier-status.js';
import type { IgateDossierItem } from '../../../../../scripts/tools/simulator/dialects/igate-dialect.js';
import { ProvinceSimulator } from '../../../../../scripts/tools/simulator/province-simulator.js';
import { truthByCode } from '../portal-client.js';
import { fetchIgatePage, readAllIgate, requestIgateDossiers } from './igate-client.js';

const baseTime = new Date('2026-03-01T03:00:00Z');
let simulator: ProvinceSimulator | undefined;
afterEach(() => simulator?.stop());

/** igate's updatedAt is fixed-width local time, so string order is time order. */
function isInIgateOrder(items: readonly IgateDossierItem[]): boolean {
  return items.every((item, index) => {
    const previous = items[index - 1];
    return (
      !previous ||
      previous.updatedAt < item.updatedAt ||
      (previous.updatedAt === item.updatedAt && previous.code < item.code)
    );
  });
}

describe('igate: GET /igate/api/v1/provinces/{province}/dossiers', () => {
  it('pages by page number through every dossier exactly once, in (updatedAt, code) order, agreeing with truth()', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01', '79'], dossiersPerProvince: 700, baseTime, paused: true });
    const url = await simulator.start();
    simulator.advance(400);

    const { items, pages } = await readAllIgate(url, '79', { by: 'page', size: 97, token: null });

    const truth = truthByCode(simulator.truth(), '79');
    expect(items).toHaveLength(truth.size);
    expect(new Set(items.map((item) => item.code)).size).toBe(items.length);
    expect(isInIgateOrder(items)).toBe(true);
    for (const item of items) {
      const row = truth.get(item.code);
      expect(item.provinceCode).toBe('79');
      expect(englishStatusWords[item.state]).toBe(row?.status);
      expect(parseSourceDate(item.updatedAt, 'updatedAt', 'iso')?.toISOString()).toBe(row?.updatedAt);
      expect(item.updatedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    }
    expect(pages.map((page) => page.number)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(pages.every((page) => page.size === 97 && page.totalElements === 700 && page.totalPages === 8)).toBe(true);
  });

  it('pages by offset/limit through the same sequence, numbering each page floor(offset / limit)', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 450, baseTime, paused: true });
    const url = await simulator.start();

    const byPage = await readAllIgate(url, '01', { by: 'page', size: 100, token: null });
    const byOffset = await readAllIgate(url, '01', { by: 'offset', size: 100, token: null });
    const unaligned = await fetchIgatePage(url, '01', { offset: '250', limit: '100' }, null);

    expect(byOffset.items).toEqual(byPage.items);
    expect(byOffset.pages).toEqual(byPage.pages);
    expect(unaligned.page).toEqual({ number: 2, size: 100, totalElements: 450, totalPages: 5 });
    expect(unaligned.content.map((item) => item.code)).toEqual(byPage.items.slice(250, 350).map((item) => item.code));
  });

  it('serves nested camelCase items with ISO timeline dates at +07:00 and the personal data under applicant', async () => {
    simulator = new ProvinceSimulator({ provinces: ['79'], dossiersPerProvince: 200, baseTime, paused: true });
    const url = await simulator.start();

    const { items } = await readAllIgate(url, '79', { by: 'page', size: 500, token: null });

    const [item] = items;
    expect(Object.keys(item ?? {}).sort()).toEqual(
      [
        'agency',
        'applicant',
        'applicantKind',
        'channel',
        'code',
        'procedure',
        'provinceCode',
        'state',
        'timeline',
        'updatedAt',
      ].sort(),
    );
    expect(Object.keys(item?.applicant ?? {}).sort()).toEqual(['address', 'fullName', 'identityNumber', 'phone']);
    for (const { timeline, channel, applicantKind, agency, applicant } of items) {
      for (const value of Object.values(timeline))
        if (value !== null) expect(value).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00$/);
      expect(['direct', 'online', 'postal']).toContain(channel);
      expect(['citizen', 'business', 'agency', 'organization']).toContain(applicantKind);
      expect(agency.code).toMatch(/^000\.00\.\d{2}\.H79$/);
      expect(applicant.identityNumber).toMatch(/^\d{12}$/);
    }
    expect(items.some((each) => each.timeline.acceptedAt === null)).toBe(true);
  });

  it('reads updatedFrom as Vietnam time, inclusive', async () => {
    // Every dossier stamped 2026-03-01 03:00:00 UTC, which is 10:00:00 in Vietnam.
    simulator = new ProvinceSimulator({
      provinces: ['01'],
      dossiersPerProvince: 10,
      baseTime,
      sameUpdatedAt: true,
      paused: true,
    });
    const url = await simulator.start();
    const count = async (updatedFrom: string) =>
      (await fetchIgatePage(url, '01', { updatedFrom }, null)).page.totalElements;

    expect(await count('2026-03-01T09:59:59')).toBe(10);
    expect(await count('2026-03-01T10:00:00')).toBe(10);
    expect(await count('2026-03-01T10:00:01')).toBe(0);
  });

  it('serves 20 items by default', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 30, baseTime, paused: true });
    const url = await simulator.start();

    const page = await fetchIgatePage(url, '01', {}, null);

    expect(page.content).toHaveLength(20);
    expect(page.page).toEqual({ number: 0, size: 20, totalElements: 30, totalPages: 2 });
  });

  it.each([
    ['size 0', { size: '0' }],
    ['size above 500', { size: '501' }],
    ['a negative page', { page: '-1' }],
    ['limit above 500', { offset: '0', limit: '501' }],
    ['page with offset', { page: '0', offset: '0' }],
    ['an updatedFrom that is not a date', { updatedFrom: '2026-02-31T25:00:00' }],
    ['an updatedFrom in the portal format', { updatedFrom: '20260301100000' }],
  ])('answers 400 bad_request for %s', async (_case, query) => {
    simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 5, baseTime, paused: true });
    const url = await simulator.start();

    const response = await requestIgateDossiers(url, '01', query, null);

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'bad_request', message: expect.any(String) });
  });

  it('answers 404 for a province it does not serve', async () => {
    simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 5, baseTime, paused: true });
    const url = await simulator.start();

    const response = await requestIgateDossiers(url, '48', {}, null);

    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: string }).error).toBe('not_found');
  });
});
