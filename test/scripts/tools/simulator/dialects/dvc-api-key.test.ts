import { afterEach, describe, expect, it } from 'vitest';
import { ProvinceSimulator, type SimulatorOptions } from '../../../../../scripts/tools/simulator/province-simulator.js';
import { linkTarget, readAllDvc, requestDvc } from './dvc-client.js';

let simulator: ProvinceSimulator | undefined;
afterEach(() => simulator?.stop());

async function start(credentials: SimulatorOptions['credentials']): Promise<string> {
  simulator = new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 30, paused: true, credentials });
  return simulator.start();
}

describe('dvc API key', () => {
  it.each([
    ['no apikey', {}],
    ['a wrong apikey', { apikey: 'dvc-kez' }],
  ])('answers 403 invalid api key for %s, before looking at the query', async (_case, key) => {
    const url = await start({ apiKey: 'dvc-key' });

    const response = await requestDvc(url, { limit: '0', ...key });

    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ message: 'invalid api key' });
  });

  it('serves records with the right apikey, and carries it in the Link to the next page', async () => {
    const url = await start({ apiKey: 'dvc-key' });

    const response = await requestDvc(url, { province: '01', limit: '10', apikey: 'dvc-key' });

    expect(response.status).toBe(200);
    expect(new URL(linkTarget(response.headers.get('link'))).searchParams.get('apikey')).toBe('dvc-key');
    expect((await readAllDvc(url, { province: '01', limit: '10', apikey: 'dvc-key' }, 'link')).records).toHaveLength(
      30,
    );
  });

  it('accepts the static bearer token instead of the apikey', async () => {
    const url = await start({ apiKey: 'dvc-key', bearerToken: 'static-token' });

    const right = await requestDvc(url, { province: '01', limit: '10' }, { authorization: 'Bearer static-token' });
    const wrong = await requestDvc(url, { province: '01' }, { authorization: 'Bearer other-token' });

    expect(right.status).toBe(200);
    expect(new URL(linkTarget(right.headers.get('link'))).searchParams.get('apikey')).toBeNull();
    expect(wrong.status).toBe(403);
  });

  it('accepts only the bearer token when that is the one credential configured', async () => {
    const url = await start({ bearerToken: 'static-token' });

    expect((await requestDvc(url, { province: '01' }, { authorization: 'Bearer static-token' })).status).toBe(200);
    expect((await requestDvc(url, { province: '01', apikey: 'static-token' })).status).toBe(403);
  });

  it('is open when neither is configured', async () => {
    const url = await start({ clientId: 'igate-only', clientSecret: 'igate-secret' });

    expect((await requestDvc(url, { province: '01' })).status).toBe(200);
  });
});
