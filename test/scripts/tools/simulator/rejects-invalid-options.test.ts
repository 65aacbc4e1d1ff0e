import { describe, expect, it } from 'vitest';
import { ProvinceSimulator, type SimulatorOptions } from '../../../../scripts/tools/simulator/province-simulator.js';

describe('simulator options', () => {
  it.each<[string, Partial<SimulatorOptions>]>([
    ['no provinces', { provinces: [] }],
    ['a one-digit province code', { provinces: ['1'] }],
    ['a three-digit province code', { provinces: ['001'] }],
    ['a repeated province code', { provinces: ['01', '01'] }],
    ['a negative dossier count', { dossiersPerProvince: -1 }],
    ['a malformed rate above 1', { malformedRate: 1.5 }],
    ['a zero tick', { tickMs: 0 }],
    ['an empty API key', { apiKey: '' }],
  ])('refuses %s', (_case, override) => {
    expect(() => new ProvinceSimulator({ provinces: ['01'], dossiersPerProvince: 1, ...override })).toThrow();
  });
});
