import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProvinceSimulator } from '../../../../scripts/tools/simulator/province-simulator.js';

let simulator: ProvinceSimulator;
let url: string;
beforeAll(async () => {
  simulator = new ProvinceSimulator({ provinces: ['01', '79'], dossiersPerProvince: 10, paused: true });
  url = await simulator.start();
});
afterAll(() => simulator.stop());

async function statusAndBody(query: string) {
  const response = await fetch(`${url}/api/dossiers?${query}`);
  return { status: response.status, body: (await response.json()) as { code?: string; message?: string } };
}

describe('GET /api/dossiers query validation', () => {
  it.each([
    ['no province', ''],
    ['an empty province', 'province='],
    ['a province this simulator does not serve', 'province=48'],
    ['limit 0', 'province=01&limit=0'],
    ['limit above 5000', 'province=01&limit=5001'],
    ['a fractional limit', 'province=01&limit=1.5'],
    ['a non-numeric limit', 'province=01&limit=many'],
    ['a repeated limit', 'province=01&limit=5&limit=6'],
    ['updatedSince that is not a date', 'province=01&updatedSince=20260231250000'],
    ['updatedSince in ISO format', 'province=01&updatedSince=2026-01-01T00:00:00'],
    ['an empty updatedSince', 'province=01&updatedSince='],
    ['afterCode without updatedSince', 'province=01&afterCode=01.2026.000001'],
  ])('answers 400 bad_request for %s', async (_case, query) => {
    const { status, body } = await statusAndBody(query);

    expect(status).toBe(400);
    expect(body.code).toBe('bad_request');
    expect(body.message).toEqual(expect.any(String));
  });

  it.each([
    ['limit 1', 'province=01&limit=1'],
    ['limit 5000', 'province=79&limit=5000'],
    ['a valid updatedSince', 'province=01&updatedSince=20260101000000'],
    ['updatedSince with afterCode', 'province=01&updatedSince=20260101000000&afterCode=01.2026.000001'],
  ])('answers 200 for %s', async (_case, query) => {
    expect((await statusAndBody(query)).status).toBe(200);
  });

  it('reads updatedSince as Vietnam time (UTC+7), inclusive', async () => {
    // Every dossier stamped 2026-03-01 03:00:00 UTC, which is 10:00:00 in Vietnam.
    const tied = new ProvinceSimulator({
      provinces: ['01'],
      dossiersPerProvince: 10,
      baseTime: new Date('2026-03-01T03:00:00Z'),
      sameUpdatedAt: true,
      paused: true,
    });
    const tiedUrl = await tied.start();
    const count = async (updatedSince: string) => {
      const response = await fetch(`${tiedUrl}/api/dossiers?province=01&updatedSince=${updatedSince}`);
      return ((await response.json()) as { items: unknown[] }).items.length;
    };
    try {
      expect(await count('20260301095959')).toBe(10);
      expect(await count('20260301100000')).toBe(10);
      expect(await count('20260301100001')).toBe(0);
    } finally {
      await tied.stop();
    }
  });
});
