import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProvinceSimulator } from '../../../../scripts/tools/simulator/province-simulator.js';

let simulator: ProvinceSimulator;
let url: string;
beforeEach(async () => {
  simulator = new ProvinceSimulator({
    provinces: ['01'],
    dossiersPerProvince: 5,
    apiKey: 'rehearsal-key',
    paused: true,
  });
  url = await simulator.start();
});
afterEach(() => simulator.stop());

describe('API key', () => {
  it('answers 401 unauthorized JSON when the X-Api-Key header is missing', async () => {
    const response = await fetch(`${url}/api/dossiers?province=01`);

    expect(response.status).toBe(401);
    const body = (await response.json()) as { code: string; message: string };
    expect(body.code).toBe('unauthorized');
    expect(body.message).toEqual(expect.any(String));
  });

  it('answers 401 for a wrong key, before looking at the query', async () => {
    const response = await fetch(`${url}/api/dossiers`, { headers: { 'X-Api-Key': 'rehearsal-kez' } });

    expect(response.status).toBe(401);
    expect(((await response.json()) as { code: string }).code).toBe('unauthorized');
  });

  it('serves dossiers with the right key', async () => {
    const response = await fetch(`${url}/api/dossiers?province=01`, { headers: { 'X-Api-Key': 'rehearsal-key' } });

    expect(response.status).toBe(200);
    expect(((await response.json()) as { items: unknown[] }).items).toHaveLength(5);
  });

  it('leaves the control endpoints open to the rehearsal harness', async () => {
    expect((await fetch(`${url}/_sim/health`)).status).toBe(200);
    expect((await fetch(`${url}/_sim/truth`)).status).toBe(200);
    expect((await fetch(`${url}/_sim/pause`, { method: 'POST' })).status).toBe(204);
    expect((await fetch(`${url}/_sim/resume`, { method: 'POST' })).status).toBe(204);
  });
});
