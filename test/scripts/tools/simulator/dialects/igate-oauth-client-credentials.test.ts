import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ProvinceSimulator, type SimulatorOptions } from '../../../../../scripts/tools/simulator/province-simulator.js';
import { fetchIgatePage, fetchIgateToken, requestIgateDossiers, requestIgateToken } from './igate-client.js';

const credentials = { clientId: 'sync-client', clientSecret: 'sync-secret' };
let simulator: ProvinceSimulator | undefined;
afterEach(() => simulator?.stop());

async function start(options: Partial<SimulatorOptions> = {}): Promise<string> {
  simulator = new ProvinceSimulator({
    provinces: ['01'],
    dossiersPerProvince: 30,
    paused: true,
    credentials,
    ...options,
  });
  return simulator.start();
}

describe('igate OAuth2 client credentials', () => {
  it('issues a Bearer token for the right client in the form body, good for tokenTtlSeconds (default 300)', async () => {
    const url = await start();

    const response = await requestIgateToken(url, {
      grant_type: 'client_credentials',
      client_id: 'sync-client',
      client_secret: 'sync-secret',
    });

    expect(response.status).toBe(200);
    const body = (await response.json()) as { access_token: string };
    expect(body).toEqual({
      access_token: expect.stringMatching(/^[A-Za-z0-9_-]{20,}$/),
      token_type: 'Bearer',
      expires_in: 300,
    });
    expect((await requestIgateDossiers(url, '01', {}, body.access_token)).status).toBe(200);
  });

  it('accepts the client through HTTP Basic too', async () => {
    const url = await start();
    const basic = `Basic ${Buffer.from('sync-client:sync-secret').toString('base64')}`;

    const response = await requestIgateToken(url, { grant_type: 'client_credentials' }, { authorization: basic });

    expect(response.status).toBe(200);
    const { access_token: token } = (await response.json()) as { access_token: string };
    expect((await requestIgateDossiers(url, '01', {}, token)).status).toBe(200);
  });

  it.each([
    ['a wrong secret', { client_id: 'sync-client', client_secret: 'sync-secreT' }],
    ['an unknown client', { client_id: 'other-client', client_secret: 'sync-secret' }],
    ['no client at all', {}],
  ])('answers 401 invalid_client for %s', async (_case, client) => {
    const url = await start();

    const response = await requestIgateToken(url, { grant_type: 'client_credentials', ...client });

    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'invalid_client' });
  });

  it('answers 401 invalid_client for wrong HTTP Basic client credentials', async () => {
    const url = await start();
    const basic = `Basic ${Buffer.from('sync-client:wrong').toString('base64')}`;

    const response = await requestIgateToken(url, { grant_type: 'client_credentials' }, { authorization: basic });

    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'invalid_client' });
  });

  it('answers 400 for another grant type, and for none', async () => {
    const url = await start();
    const client = { client_id: 'sync-client', client_secret: 'sync-secret' };

    const password = await requestIgateToken(url, { grant_type: 'password', ...client });
    const none = await requestIgateToken(url, client);

    expect(password.status).toBe(400);
    expect(await password.json()).toEqual({ error: 'unsupported_grant_type' });
    expect(none.status).toBe(400);
    expect(((await none.json()) as { error: string }).error).toBe('invalid_request');
  });

  it.each([
    ['no Authorization header', null],
    ['a token it never issued', 'made-up-token'],
  ])('answers 401 invalid_token for %s, before looking at the query', async (_case, token) => {
    const url = await start();

    const response = await requestIgateDossiers(url, '48', { size: '0' }, token);

    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await response.json()).toEqual({ error: 'invalid_token' });
  });

  it('rejects a token once it has expired, mid-sync, and serves the rest with a fresh one', async () => {
    const url = await start({ tokenTtlSeconds: 1 });
    const token = await fetchIgateToken(url);
    const first = await fetchIgatePage(url, '01', { page: '0', size: '10' }, token);

    await sleep(1200); // past the 1 s lifetime: expiry is the behaviour under test
    const expired = await requestIgateDossiers(url, '01', { page: '1', size: '10' }, token);
    const fresh = await fetchIgateToken(url);
    const second = await fetchIgatePage(url, '01', { page: '1', size: '10' }, fresh);

    expect(first.content).toHaveLength(10);
    expect(expired.status).toBe(401);
    expect(await expired.json()).toEqual({ error: 'invalid_token' });
    expect(second.content).toHaveLength(10);
    expect(second.content.map((item) => item.code)).not.toContain(first.content[0]?.code);
  });

  it('says the configured lifetime in expires_in', async () => {
    const url = await start({ tokenTtlSeconds: 2 });

    const response = await requestIgateToken(url, {
      grant_type: 'client_credentials',
      client_id: 'sync-client',
      client_secret: 'sync-secret',
    });

    expect(((await response.json()) as { expires_in: number }).expires_in).toBe(2);
  });

  it('is open when no client is configured: dossiers without a token, and a token for any client', async () => {
    const url = await start({ credentials: {} });

    const dossiers = await requestIgateDossiers(url, '01', {}, null);
    const token = await requestIgateToken(url, {
      grant_type: 'client_credentials',
      client_id: 'anyone',
      client_secret: 'anything',
    });

    expect(dossiers.status).toBe(200);
    expect(token.status).toBe(200);
  });

  it('keeps the other dialects out of igate auth: /api/dossiers and /_sim stay as configured', async () => {
    const url = await start();

    expect((await fetch(`${url}/api/dossiers?province=01`)).status).toBe(200);
    expect((await fetch(`${url}/_sim/health`)).status).toBe(200);
  });
});
