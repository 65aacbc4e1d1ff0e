import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProvinceSimulator } from '../../../../scripts/tools/simulator/province-simulator.js';

let simulator: ProvinceSimulator;
let url: string;
beforeAll(async () => {
  simulator = new ProvinceSimulator({
    provinces: ['01', '79'],
    dossiersPerProvince: 50,
    paused: true,
    malformedRateByProvince: { '79': 0.2 },
  });
  url = await simulator.start();
});
afterAll(async () => simulator?.stop());

const list = (province: string, signal?: AbortSignal) =>
  fetch(`${url}/api/dossiers?province=${province}&limit=10`, { signal });

it('fails, hangs or drops one province while the other answers', async () => {
  simulator.setFault('01', { failureRate: 1 });
  expect((await list('01')).status).toBe(503);
  expect((await list('79')).status).toBe(200);

  simulator.setFault('01', { down: true });
  await expect(list('01')).rejects.toThrow();

  simulator.setFault('01', { delayMs: 2000 });
  await expect(list('01', AbortSignal.timeout(100))).rejects.toThrow();

  simulator.setFault('01', null);
  expect((await list('01')).status).toBe(200);
});

it('serves one province malformed at its own rate', () => {
  const malformed = (province: string) =>
    [...simulator.truth()].filter((row) => row.provinceCode === province && row.malformed).length;
  expect(malformed('01')).toBe(0);
  expect(malformed('79')).toBeGreaterThan(0);
});
