import { describe, expect, it } from 'vitest';
import { ProvinceSimulator, type SimulatorOptions } from '../../../../../scripts/tools/simulator/province-simulator.js';

describe('vendor dialect options', () => {
  it.each<[string, Partial<SimulatorOptions>]>([
    ['an empty credential', { credentials: { apiKey: '' } }],
    ['a client id without a secret', { credentials: { clientId: 'sync-client' } }],
    ['a client secret without an id', { credentials: { clientSecret: 'sync-secret' } }],
    ['a user name without a password', { credentials: { username: 'lgsp-user' } }],
    ['a user name with a colon', { credentials: { username: 'lgsp:user', password: 'secret' } }],
    ['a zero token lifetime', { tokenTtlSeconds: 0 }],
    ['a fractional token lifetime', { tokenTtlSeconds: 1.5 }],
  ])('refuses %s', (_case, override) => {
    expect(() => new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 1, ...override })).toThrow();
  });

  it('accepts every credential at once, and a one-second token lifetime', () => {
    const credentials = {
      apiKey: 'k',
      clientId: 'c',
      clientSecret: 's',
      username: 'u',
      password: 'p',
      bearerToken: 't',
    };

    expect(
      () => new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 1, credentials, tokenTtlSeconds: 1 }),
    ).not.toThrow();
  });
});
