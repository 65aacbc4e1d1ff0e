import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NationalRestConnector,
  nationalRestConfig,
} from '../../../connectors/national-rest/national-rest-connector.js';
import type { SummaryScope } from '../../../connectors/sdk/connector.js';
import { digestOf } from '../../../connectors/sdk/summary-hash.js';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { fetchTruth, truthInScope } from '../../scripts/tools/simulator/portal-client.js';
import { startProvinceServer } from './province-server.js';

const keyVariable = 'DOSSIER_SYNC_TEST_SUMMARY_API_KEY';
const apiKey = 'k-summary-4d2e8a';
let simulator: ProvinceSimulator;
let url: string;

beforeAll(async () => {
  process.env[keyVariable] = apiKey;
  simulator = new ProvinceSimulator({
    provinces: ['79'],
    dossiersPerProvince: 2500,
    baseTime: new Date('2026-03-01T03:00:00Z'),
    paused: true,
    apiKey,
  });
  url = await simulator.start();
  simulator.advance(400);
});

afterAll(async () => {
  delete process.env[keyVariable];
  await simulator.stop();
});

function connector(config: Record<string, unknown> = {}): NationalRestConnector {
  return new NationalRestConnector({
    id: 'hcm-rest',
    sourceProvinceCode: '79',
    sourceCodeSet: '2025',
    config: nationalRestConfig.parse({ baseUrl: url, apiKey: { env: keyVariable }, ...config }),
  });
}

async function truthDigest(scope: SummaryScope): Promise<{ count: number; hash: string }> {
  const rows = truthInScope(await fetchTruth(url), '79', {
    updatedFrom: scope.updatedFrom.toISOString(),
    updatedTo: scope.updatedTo.toISOString(),
    ...(scope.codeFrom === null ? {} : { codeFrom: scope.codeFrom }),
    ...(scope.codeTo === null ? {} : { codeTo: scope.codeTo }),
  });
  return digestOf(
    rows.map((row) => ({ dossierCode: row.dossierCode, sourceVersion: row.version, status: row.status })),
  );
}

describe('national-rest summarise and fetchDossiers against the simulator', () => {
  it('summarise answers the digest of the truth of the scope, whole, by time and by code range', async () => {
    const scopes: SummaryScope[] = [
      {
        updatedFrom: new Date('2026-01-01T00:00:00Z'),
        updatedTo: new Date('2027-01-01T00:00:00Z'),
        codeFrom: null,
        codeTo: null,
      },
      {
        updatedFrom: new Date('2026-02-03T10:20:30.400Z'),
        updatedTo: new Date('2026-02-17T00:00:00Z'),
        codeFrom: null,
        codeTo: null,
      },
      {
        updatedFrom: new Date('2026-02-01T00:00:00Z'),
        updatedTo: new Date('2026-02-25T00:00:00Z'),
        codeFrom: '79.2026.000500',
        codeTo: '79.2026.001200',
      },
    ];
    for (const scope of scopes) {
      const summary = await connector().summarise!(scope);
      const expected = await truthDigest(scope);
      expect(expected.count).toBeGreaterThan(0);
      expect(summary).toEqual({ kind: 'digest', ...expected });
    }
  });

  it('a silent change shows in the summary, though no page after the cursor shows it', async () => {
    const scope: SummaryScope = {
      updatedFrom: new Date('2026-01-01T00:00:00Z'),
      updatedTo: new Date('2027-01-01T00:00:00Z'),
      codeFrom: null,
      codeTo: null,
    };
    const before = await connector().summarise!(scope);
    simulator.injectDrift('79', 'silent-change', { count: 3 });
    const after = await connector().summarise!(scope);
    expect(after).not.toEqual(before);
    expect(after).toEqual({ kind: 'digest', ...(await truthDigest(scope)) });
  });

  it('fetchDossiers answers records of exactly the codes asked, in batches, mapped; a deleted one is absent', async () => {
    const rows = await fetchTruth(url);
    const asked = [rows[7], rows[300], rows[1200], rows[2100], rows[2499]].map((row) => row!.dossierCode);
    const [deleted] = simulator.injectDrift('79', 'delete', { count: 1 }).dossierCodes as [string];
    const source = connector({ fetchBatchSize: 2 });
    const records = (await source.fetchDossiers!([...asked, deleted])).map((item) => source.map(item));
    const truth = new Map((await fetchTruth(url)).map((row) => [row.dossierCode, row]));
    expect(records.map((record) => record.dossierCode)).toEqual(asked.filter((code) => code !== deleted));
    for (const record of records) {
      const row = truth.get(record.dossierCode)!;
      expect({ status: record.status, sourceVersion: record.sourceVersion }).toEqual({
        status: row.status,
        sourceVersion: row.version,
      });
      expect(record.sourceUpdatedAt.toISOString()).toBe(row.updatedAt);
    }
  });

  it('a system without the endpoints (summaries: false) has neither member', () => {
    const source = connector({ summaries: false });
    expect(source.summarise).toBeUndefined();
    expect(source.fetchDossiers).toBeUndefined();
    expect(() => nationalRestConfig.parse({ baseUrl: url, fetchBatchSize: 500 })).toThrow(/200/);
  });

  it('an answer that is not a digest, or a by-code answer without items, is a source error saying what was expected', async () => {
    const server = await startProvinceServer();
    try {
      const source = connector({ baseUrl: server.url });
      server.answer({ status: 200, body: { count: 3, hash: 'ABC' } });
      await expect(
        source.summarise!({ updatedFrom: new Date(0), updatedTo: new Date(1), codeFrom: null, codeTo: null }),
      ).rejects.toThrow(/GET \/api\/dossiers\/summary answered without a digest; expected \{"count"/);
      expect(server.requests[0]!.query.get('updatedFrom')).toBe('1970-01-01T00:00:00.000Z');
      expect(server.requests[0]!.query.get('updatedTo')).toBe('1970-01-01T00:00:00.001Z');
      expect(server.requests[0]!.query.has('codeFrom')).toBe(false);
      server.answer({ status: 200, body: { records: [] } });
      await expect(source.fetchDossiers!(['79.2026.000001'])).rejects.toThrow(/without an "items" array/);
      await expect(source.fetchDossiers!(['a,b'])).rejects.toThrow(/with a comma/);
    } finally {
      await server.close();
    }
  });
});

describe('national-rest summariseMany against the simulator', () => {
  it('answers the digests and listings of many scopes, in order, in as few requests as its setting allows', async () => {
    const truth = (await fetchTruth(url)).filter((row) => row.provinceCode === '79');
    const times = truth.map((row) => Date.parse(row.updatedAt)).sort((a, b) => a - b);
    const first = Math.floor(times[0]! / 1000) * 1000;
    const last = times[times.length - 1]! + 1000;
    const step = Math.ceil((last - first) / 40);
    const scopes: SummaryScope[] = [];
    for (let start = first; start < last; start += step)
      scopes.push({ updatedFrom: new Date(start), updatedTo: new Date(start + step), codeFrom: null, codeTo: null });
    scopes.push({ ...scopes[3]!, codeFrom: '79.2026.000100', codeTo: '79.2026.000900' });
    let requests = 0;
    // Every request passes the connector's gate: one that counts them.
    const counted = new NationalRestConnector({
      id: 'hcm-rest',
      sourceProvinceCode: '79',
      sourceCodeSet: '2025',
      gate: { run: (request) => ((requests += 1), request()) },
      config: nationalRestConfig.parse({ baseUrl: url, apiKey: { env: keyVariable }, summaryScopesPerRequest: 15 }),
    });
    const digests = await counted.summariseMany!(scopes, 'digest');
    expect(requests).toBe(Math.ceil(scopes.length / 15));
    expect(digests).toEqual(
      await Promise.all(scopes.map(async (scope) => ({ kind: 'digest', ...(await truthDigest(scope)) }))),
    );
    const listings = await counted.summariseMany!(scopes.slice(0, 3), 'listing');
    for (const [position, listing] of listings.entries()) {
      if (listing.kind !== 'listing') throw new Error('expected a listing');
      expect(digestOf(listing.entries)).toEqual(await truthDigest(scopes[position]!));
    }
    expect(connector({ summaryScopesPerRequest: 0 }).summariseMany).toBeUndefined();
  });
});
