import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { declarativePlugin } from '../../../connectors/declarative/declarative-connector.js';
import type { Connector, ReadState, TimeWindow } from '../../../connectors/sdk/connector.js';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { parseDefinition, parseDefinitionText } from '../../../workers/control-plane/definition.js';

const baseTime = new Date('2026-11-20T00:00:00Z');
let simulator: ProvinceSimulator;
let url: string;

beforeAll(async () => {
  simulator = new ProvinceSimulator({
    provinces: ['48'],
    dossiersPerProvince: 2_000,
    seed: 21,
    baseTime,
    paused: true,
  });
  url = await simulator.start();
});
afterAll(async () => {
  await simulator?.stop();
});

/** A declarative definition of the simulator's portal dialect read in windows: offset pages inside each. */
function windowedConnector(pageSize: number): Connector {
  const definition = parseDefinition({
    id: 'danang-windows',
    province: { code: '48' },
    http: { baseUrl: url },
    request: {
      path: '/api/dossiers',
      query: {
        province: '{{province}}',
        updatedSince: '{{windowStart}}',
        updatedBefore: '{{windowEnd}}',
        offset: '{{offset}}',
        limit: '{{limit}}',
      },
    },
    pagination: { type: 'offset', pageSize },
    incremental: { cursorField: 'NgayCapNhat', cursorFormat: 'yyyyMMddHHmmss', windowHours: 24 },
    records: { path: 'items' },
    fields: { dossierCode: 'MaHoSo', status: 'TrangThaiHoSo', sourceVersion: 'PhienBan' },
    statuses: { map: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [String(i + 1), i + 1])) },
    rateLimit: { requestsPerSecond: 500 },
  });
  return declarativePlugin.create({
    id: definition.id,
    sourceProvinceCode: '48',
    sourceCodeSet: '2025',
    config: definition.config as never,
  });
}

async function walk(connector: Connector, window: TimeWindow): Promise<{ codes: string[]; pages: number }> {
  const codes: string[] = [];
  let from: ReadState | null = null;
  for (let pages = 1; ; pages++) {
    const page = await connector.readWindow!(window, from);
    codes.push(...page.items.map((item) => (item as { MaHoSo: string }).MaHoSo));
    if (page.next === null) return { codes, pages };
    from = page.next;
  }
}

it('walks a window with the templates of the definition: exactly the dossiers updated in it, each once', async () => {
  const connector = windowedConnector(29);
  const seen: string[] = [];
  let multiPage = 0;
  for (let day = 0; day < 31; day++) {
    const window = {
      from: new Date(baseTime.getTime() - (31 - day) * 86_400_000),
      to: new Date(baseTime.getTime() - (30 - day) * 86_400_000),
    };
    const { codes, pages } = await walk(connector, window);
    if (pages > 1) multiPage += 1;
    const truth = [...simulator.truth()]
      .filter(
        (row) => Date.parse(row.updatedAt) >= window.from.getTime() && Date.parse(row.updatedAt) < window.to.getTime(),
      )
      .map((row) => row.dossierCode);
    expect([...codes].sort()).toEqual(truth.sort());
    seen.push(...codes);
  }
  expect(multiPage).toBeGreaterThan(20);
  expect(new Set(seen).size).toBe(2_000);
  expect(seen).toHaveLength(2_000);
});

it('has no readWindow for a definition without window templates', () => {
  const example = fileURLToPath(new URL('../../../connectors/examples/hcm-igate.yaml', import.meta.url));
  const definition = parseDefinitionText(readFileSync(example, 'utf8'));
  const connector = declarativePlugin.create({
    id: definition.id,
    sourceProvinceCode: '79',
    sourceCodeSet: '2025',
    config: definition.config as never,
  });
  expect(connector.readWindow).toBeUndefined();
  expect(typeof windowedConnector(10).readWindow).toBe('function');
});
