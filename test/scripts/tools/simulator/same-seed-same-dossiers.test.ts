import { afterEach, describe, expect, it } from 'vitest';
import { ProvinceSimulator, type SimulatorOptions } from '../../../../scripts/tools/simulator/province-simulator.js';
import { readAllPages } from './portal-client.js';

const baseTime = new Date('2026-03-01T03:00:00Z');
const started: ProvinceSimulator[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((simulator) => simulator.stop()));
});

async function servedDossiers(options: Omit<SimulatorOptions, 'dossiersPerProvince' | 'baseTime'>, province = '01') {
  const simulator = new ProvinceSimulator({ dossiersPerProvince: 400, baseTime, paused: true, ...options });
  started.push(simulator);
  const { items } = await readAllPages(await simulator.start(), province, 1000);
  return items;
}

describe('seeded generation', () => {
  it('gives identical dossiers, field for field, for the same seed and base time', async () => {
    const first = await servedDossiers({ provinces: ['01'], seed: 42 });
    const second = await servedDossiers({ provinces: ['01'], seed: 42 });

    expect(first).toHaveLength(400);
    expect(second).toEqual(first);
  });

  it('gives different dossiers for a different seed', async () => {
    const first = await servedDossiers({ provinces: ['01'], seed: 42 });
    const other = await servedDossiers({ provinces: ['01'], seed: 43 });

    expect(other.map((item) => item.ChuHoSo)).not.toEqual(first.map((item) => item.ChuHoSo));
  });

  it("keeps a province's dossiers the same when other provinces are added", async () => {
    const alone = await servedDossiers({ provinces: ['79'], seed: 7 }, '79');
    const withOthers = await servedDossiers({ provinces: ['01', '79', '92'], seed: 7 }, '79');

    expect(withOthers).toEqual(alone);
  });

  it('uses seed 1 when none is given', async () => {
    const unseeded = await servedDossiers({ provinces: ['01'] });
    const seedOne = await servedDossiers({ provinces: ['01'], seed: 1 });

    expect(unseeded).toEqual(seedOne);
  });
});
