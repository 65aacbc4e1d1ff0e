import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SourcePage, TimeWindow } from '../../../connectors/sdk/connector.js';
import { nationalRestPlugin } from '../../../connectors/national-rest/national-rest-connector.js';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';

const baseTime = new Date('2026-11-20T00:00:00Z');
let simulator: ProvinceSimulator;
let tied: ProvinceSimulator;
let url: string;
let tiedUrl: string;

beforeAll(async () => {
  // 3,000 dossiers over 30 days at second precision: many windows, several pages each at 37 a page.
  simulator = new ProvinceSimulator({
    provinces: ['79'],
    dossiersPerProvince: 3_000,
    seed: 11,
    baseTime,
    paused: true,
  });
  url = await simulator.start();
  // Every dossier stamped in the same second: one window is a long run of ties across page boundaries.
  tied = new ProvinceSimulator({
    provinces: ['01'],
    dossiersPerProvince: 500,
    seed: 3,
    baseTime,
    paused: true,
    sameUpdatedAt: true,
  });
  tiedUrl = await tied.start();
});
afterAll(async () => {
  await simulator?.stop();
  await tied?.stop();
});

function connectorOf(baseUrl: string, province: string, pageSize: number) {
  const connector = nationalRestPlugin.create({
    id: `window-${province}`,
    sourceProvinceCode: province,
    sourceCodeSet: '2025',
    config: nationalRestPlugin.configSchema.parse({ baseUrl, pageSize, rateLimit: { requestsPerSecond: 500 } }),
  });
  if (!connector.readWindow) throw new Error('national-rest must read by window');
  return { connector, readWindow: connector.readWindow.bind(connector) };
}

/** Walks one window page by page: the codes read, in order, and how many pages it took. */
async function walk(
  readWindow: (window: TimeWindow, from: SourcePage['next']) => Promise<SourcePage>,
  window: TimeWindow,
): Promise<{ codes: string[]; pages: number }> {
  const codes: string[] = [];
  let from: SourcePage['next'] = null;
  let pages = 0;
  for (;;) {
    const page = await readWindow(window, from);
    pages += 1;
    codes.push(...page.items.map((item) => (item as { MaHoSo: string }).MaHoSo));
    if (page.next === null) return { codes, pages };
    from = page.next;
  }
}

const truthIn = (source: ProvinceSimulator, window: TimeWindow) =>
  [...source.truth()]
    .filter(
      (row) => Date.parse(row.updatedAt) >= window.from.getTime() && Date.parse(row.updatedAt) < window.to.getTime(),
    )
    .map((row) => row.dossierCode)
    .sort();

it('walking each day of the range returns exactly the dossiers updated in it, each once', async () => {
  const { readWindow } = connectorOf(url, '79', 37);
  const seen: string[] = [];
  let multiPage = 0;
  for (let day = 0; day < 31; day++) {
    const window = {
      from: new Date(baseTime.getTime() - (31 - day) * 86_400_000),
      to: new Date(baseTime.getTime() - (30 - day) * 86_400_000),
    };
    const { codes, pages } = await walk(readWindow, window);
    if (pages > 1) multiPage += 1;
    expect([...codes].sort()).toEqual(truthIn(simulator, window));
    seen.push(...codes);
  }
  expect(multiPage).toBeGreaterThan(20);
  expect(new Set(seen).size).toBe(seen.length);
  expect(seen.length).toBe(3_000);
});

it('pages through a run of dossiers tied on one update time without losing or repeating one', async () => {
  const { readWindow } = connectorOf(tiedUrl, '01', 40);
  const stamp = Date.parse([...tied.truth()][0]!.updatedAt);
  const window = { from: new Date(stamp), to: new Date(stamp + 1000) };
  const { codes, pages } = await walk(readWindow, window);
  expect(pages).toBeGreaterThan(10);
  expect([...codes].sort()).toEqual(truthIn(tied, window));
  expect(codes).toHaveLength(500);
  // A window that ends at the tied second leaves every tied dossier out; one starting just after it too.
  expect((await walk(readWindow, { from: new Date(stamp - 60_000), to: new Date(stamp) })).codes).toEqual([]);
  expect((await walk(readWindow, { from: new Date(stamp + 1000), to: new Date(stamp + 60_000) })).codes).toEqual([]);
});

it('reads changes made after the range was generated in the window they fall in', async () => {
  simulator.advance(50);
  const { readWindow } = connectorOf(url, '79', 37);
  const window = { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 3_600_000) };
  const { codes } = await walk(readWindow, window);
  expect([...codes].sort()).toEqual(truthIn(simulator, window));
  expect(codes.length).toBeGreaterThan(0);
});
