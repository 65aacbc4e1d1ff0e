import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnector } from '../../../connectors/plugins.js';
import type { Connector, SummaryScope } from '../../../connectors/sdk/connector.js';
import { DefinitionError } from '../../../connectors/sdk/definition-error.js';
import { digestOf } from '../../../connectors/sdk/summary-hash.js';
import { ProvinceSimulator } from '../../../scripts/tools/simulator/province-simulator.js';
import { parseDefinition, parseDefinitionText } from '../../../workers/control-plane/definition.js';
import { fetchTruth, truthInScope } from '../../scripts/tools/simulator/portal-client.js';
import { portalSummariesSection } from '../../support/connectors.js';
import { validDefinition } from './valid-definition.js';

const apiKey = 'dvc-reconcile-key-5b1f';
let simulator: ProvinceSimulator;
let url: string;

beforeAll(async () => {
  process.env.CANTHO_DVC_API_KEY = apiKey;
  simulator = new ProvinceSimulator({
    provinces: ['92'],
    dossiersPerProvince: 2500,
    baseTime: new Date('2026-03-01T03:00:00Z'),
    paused: true,
    credentials: { apiKey },
  });
  url = await simulator.start();
  simulator.advance(400);
});

afterAll(async () => {
  delete process.env.CANTHO_DVC_API_KEY;
  await simulator.stop();
});

function connectorOf(definition: ReturnType<typeof parseDefinition>): Connector {
  return createConnector({
    id: definition.id,
    sourceProvinceCode: definition.sourceProvinceCode,
    sourceCodeSet: definition.sourceCodeSet,
    kind: definition.kind,
    config: definition.config,
  });
}

async function canthoDvc(batchSize = 100): Promise<Connector> {
  const text = await readFile(new URL('../../../connectors/examples/cantho-dvc.yaml', import.meta.url), 'utf8');
  return connectorOf(
    parseDefinitionText(
      text.replaceAll('http://127.0.0.1:9090', url).replace('batchSize: 100', `batchSize: ${batchSize}`),
      'cantho-dvc.yaml',
    ),
  );
}

async function truthOf(scope: SummaryScope) {
  const rows = truthInScope(await fetchTruth(url), '92', {
    updatedFrom: scope.updatedFrom.toISOString(),
    updatedTo: scope.updatedTo.toISOString(),
    ...(scope.codeFrom === null ? {} : { codeFrom: scope.codeFrom }),
    ...(scope.codeTo === null ? {} : { codeTo: scope.codeTo }),
  });
  return rows.map((row) => ({ dossierCode: row.dossierCode, sourceVersion: row.version, status: row.status }));
}

/** The national portal dialect described declaratively, with a digest summary. */
function portalDefinition(): Record<string, unknown> {
  return {
    id: 'cantho-portal',
    province: { code: '92' },
    http: { baseUrl: url },
    request: {
      path: '/api/dossiers',
      query: { province: '{{province}}', updatedSince: '{{cursor}}', limit: '{{limit}}' },
    },
    pagination: { type: 'offset', pageSize: 500 },
    incremental: { cursorField: 'NgayCapNhat', cursorFormat: 'yyyyMMddHHmmss' },
    records: { path: 'items' },
    reconcile: {
      summary: {
        path: '/api/dossiers/summary',
        query: {
          province: '{{province}}',
          updatedFrom: '{{updatedFrom}}',
          updatedTo: '{{updatedTo}}',
          codeFrom: '{{codeFrom}}',
          codeTo: '{{codeTo}}',
        },
        dateFormat: "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
        digest: { countPath: 'count', hashPath: 'hash' },
      },
    },
    fields: { dossierCode: 'MaHoSo', status: 'TrangThaiHoSo', sourceVersion: 'PhienBan' },
    statuses: { preset: 'national' },
  };
}

/** The portal dialect's multi-scope POST described declaratively (no single-scope request). */
function multiScopeDefinition(scopesPerRequest: number): Record<string, unknown> {
  const definition = portalDefinition();
  definition.reconcile = {
    summaries: portalSummariesSection(scopesPerRequest),
  };
  return definition;
}

const scopes: SummaryScope[] = [
  {
    updatedFrom: new Date('2026-02-10T00:00:00Z'),
    updatedTo: new Date('2026-02-12T00:00:00Z'),
    codeFrom: null,
    codeTo: null,
  },
  // Bounds inside a second: rounded up to whole seconds they hold the same dossiers.
  {
    updatedFrom: new Date('2026-02-14T06:30:00.250Z'),
    updatedTo: new Date('2026-02-16T11:00:00.900Z'),
    codeFrom: '92.2026.000400',
    codeTo: '92.2026.001900',
  },
];

describe('a declarative connector with a reconcile section', () => {
  it('summarises a scope as a listing whose vendor statuses are mapped, equal to the truth of the scope', async () => {
    const connector = await canthoDvc();
    for (const scope of scopes) {
      const summary = await connector.summarise!(scope);
      const truth = await truthOf(scope);
      expect(truth.length).toBeGreaterThan(20);
      expect(summary).toEqual({ kind: 'listing', entries: truth });
      if (summary.kind !== 'listing') throw new Error('expected a listing');
      expect(digestOf(summary.entries)).toEqual(digestOf(truth));
    }
  });

  it('summarises a scope as a digest where the source hashes, equal to digestOf the truth of the scope', async () => {
    const connector = connectorOf(parseDefinition(portalDefinition()));
    expect(connector.fetchDossiers).toBeUndefined();
    for (const scope of scopes) {
      expect(await connector.summarise!(scope)).toEqual({ kind: 'digest', ...digestOf(await truthOf(scope)) });
    }
  });

  it('summarises many scopes in POSTs of scopesPerRequest, digests or listings, each equal to the truth', async () => {
    for (const perRequest of [1, 1000]) {
      const connector = connectorOf(parseDefinition(multiScopeDefinition(perRequest)));
      expect(connector.summaryScopesPerRequest).toBe(perRequest);
      const truths = await Promise.all(scopes.map((scope) => truthOf(scope)));
      expect(await connector.summariseMany!(scopes, 'digest')).toEqual(
        truths.map((truth) => ({ kind: 'digest', ...digestOf(truth) })),
      );
      expect(await connector.summariseMany!(scopes, 'listing')).toEqual(
        truths.map((truth) => ({ kind: 'listing', entries: truth })),
      );
      // The multi-scope form alone answers one scope too.
      expect(await connector.summarise!(scopes[1]!)).toEqual({ kind: 'digest', ...digestOf(truths[1]!) });
    }
  });

  it("writes each form's bounds in its own date format when a definition has both", async () => {
    const definition = multiScopeDefinition(1000);
    const single = (portalDefinition().reconcile as { summary: Record<string, unknown> }).summary;
    // The single-scope request's format, which the portal dialect refuses: only the multi-scope form is asked here.
    (definition.reconcile as Record<string, unknown>).summary = { ...single, dateFormat: 'yyyyMMddHHmmss' };
    const connector = connectorOf(parseDefinition(definition));
    const truths = await Promise.all(scopes.map((scope) => truthOf(scope)));
    expect(await connector.summariseMany!(scopes, 'digest')).toEqual(
      truths.map((truth) => ({ kind: 'digest', ...digestOf(truth) })),
    );
    await expect(connector.summarise!(scopes[0]!)).rejects.toThrow(/GET \/api\/dossiers\/summary/);
  });

  it('refuses an answer without one summary per scope, saying what was expected', async () => {
    const definition = multiScopeDefinition(1000);
    (definition.reconcile as { summaries: Record<string, unknown> }).summaries.summariesPath = 'nowhere';
    await expect(connectorOf(parseDefinition(definition)).summariseMany!(scopes, 'digest')).rejects.toThrow(
      /the summaries answer: nowhere is not a list of 2 summaries, one per scope asked/,
    );
  });

  it('fetches the mapped records of exactly the codes asked, in batches; a deleted dossier is absent', async () => {
    const connector = await canthoDvc(7);
    const rows = await fetchTruth(url);
    const asked = rows.filter((_, position) => position % 97 === 0).map((row) => row.dossierCode);
    const deleted = simulator.injectDrift('92', 'delete', { count: 3 }).dossierCodes;
    const records = (await connector.fetchDossiers!([...asked, ...deleted])).map((item) => connector.map(item));
    const truth = new Map((await fetchTruth(url)).map((row) => [row.dossierCode, row]));
    expect(records.map((record) => record.dossierCode)).toEqual(asked.filter((code) => !deleted.includes(code)));
    for (const record of records) {
      const row = truth.get(record.dossierCode)!;
      expect([record.status, record.sourceVersion]).toEqual([row.status, row.version]);
    }
  });

  it('fetches by a POST of the code list the same records; a code holding the separator is simply absent', async () => {
    const definition = portalDefinition();
    const fetch = { path: '/api/dossiers/by-code', query: { province: '{{province}}' }, recordsPath: 'items' };
    definition.reconcile = { fetch: { ...fetch, query: { ...fetch.query, codes: '{{codes}}' }, batchSize: 7 } };
    const byGet = connectorOf(parseDefinition(definition));
    definition.reconcile = { fetch: { ...fetch, method: 'POST', body: { codes: '{{codes}}' }, batchSize: 7 } };
    const byPost = connectorOf(parseDefinition(definition));
    const asked = (await fetchTruth(url)).filter((_, position) => position % 89 === 0).map((row) => row.dossierCode);
    expect(asked.length).toBeGreaterThan(20);
    const posted = await byPost.fetchDossiers!([...asked, 'not, a code']);
    expect(posted).toEqual(await byGet.fetchDossiers!(asked));
    expect(posted.map((item) => byPost.map(item).dossierCode)).toEqual(asked);
    await expect(byGet.fetchDossiers!(['not, a code'])).rejects.toThrow(/contains reconcile\.fetch\.separator/);
  });

  it('a status the definition does not map is listed as 0, a code no national status has', async () => {
    const definition = parseDefinitionText(
      (await readFile(new URL('../../../connectors/examples/cantho-dvc.yaml', import.meta.url), 'utf8'))
        .replaceAll('http://127.0.0.1:9090', url)
        .replace('TT04: 4, ', ''),
      'cantho-dvc.yaml',
    );
    const summary = await connectorOf(definition).summarise!(scopes[0]!);
    if (summary.kind !== 'listing') throw new Error('expected a listing');
    const truth = await truthOf(scopes[0]!);
    expect(truth.some((entry) => entry.status === 4)).toBe(true);
    expect(summary.entries).toEqual(truth.map((entry) => (entry.status === 4 ? { ...entry, status: 0 } : entry)));
  });
});

describe('the reconcile section is checked', () => {
  function problemsOf(reconcile: unknown, change: (definition: Record<string, unknown>) => void = () => {}): string[] {
    const definition = validDefinition();
    definition.reconcile = reconcile;
    change(definition);
    try {
      parseDefinition(definition);
    } catch (error) {
      if (error instanceof DefinitionError) return error.problems;
      throw error;
    }
    throw new Error('the definition was accepted');
  }
  const query = { from: '{{updatedFrom}}', to: '{{updatedTo}}' };

  it('names the path and what is expected', () => {
    expect(problemsOf({ summary: { path: '/s', query } }).join('\n')).toMatch(
      /reconcile\.summary.*expected exactly one of digest \(count and hash\) or listing/,
    );
    expect(
      problemsOf({
        summary: {
          path: '/s',
          query,
          digest: { countPath: 'count', hashPath: 'hash' },
          listing: { entriesPath: 'items', dossierCode: 'c', status: 's', sourceVersion: 'v' },
        },
      }).join('\n'),
    ).toMatch(/expected exactly one of digest/);
    expect(
      problemsOf({
        summary: { path: '/s', query: { ...query, at: '{{cursor}}' }, digest: { countPath: 'n', hashPath: 'h' } },
      }).join('\n'),
    ).toMatch(
      /reconcile\.summary\.query\.at.*\{\{cursor\}\} is not a placeholder here; expected one of \{\{province\}\}/,
    );
    expect(problemsOf({ summary: { path: '/s', digest: { countPath: 'n', hashPath: 'h' } } }).join('\n')).toMatch(
      /needs \{\{updatedFrom\}\} and \{\{updatedTo\}\}/,
    );
    expect(problemsOf({ fetch: { path: '/f', recordsPath: 'records' } }).join('\n')).toMatch(/needs \{\{codes\}\}/);
    expect(problemsOf({ fetch: { path: '/f', body: { codes: '{{codes}}' }, recordsPath: 'r' } }).join('\n')).toMatch(
      /reconcile\.fetch\.body.*a body is sent with method POST only/,
    );
    expect(
      problemsOf({
        fetch: { path: '/f', method: 'POST', body: { codes: '{{codes}}', at: '{{cursor}}' }, recordsPath: 'r' },
      }).join('\n'),
    ).toMatch(/reconcile\.fetch\.body\.at.*\{\{cursor\}\} is not a placeholder here/);
    expect(
      problemsOf({
        fetch: { path: '/f', query: { codes: '{{codes}}', at: '{{updatedFrom}}' }, recordsPath: 'records' },
      }).join('\n'),
    ).toMatch(/\{\{updatedFrom\}\} is not a placeholder here; expected one of \{\{province\}\}, \{\{codes\}\}/);
    expect(
      problemsOf({
        summary: { path: '/s', query, listing: { entriesPath: 'items', dossierCode: 'c', status: 's' } },
      }).join('\n'),
    ).toMatch(/expected exactly one of sourceVersion or updatedAt/);
  });

  it('holds the multi-scope form to a body with the scopes, the kind asked, and scopes with their times', () => {
    const summaries = {
      path: '/many',
      body: { scopes: '{{scopes}}', listing: '{{listing}}' },
      scope: { from: '{{updatedFrom}}', to: '{{updatedTo}}' },
      summariesPath: 'summaries',
      digest: { countPath: 'count', hashPath: 'hash' },
      listing: { entriesPath: 'entries', dossierCode: 'c', status: 's', updatedAt: 'u' },
    };
    const problems = (change: Record<string, unknown>) =>
      problemsOf({ summaries: { ...summaries, ...change } }).join('\n');
    expect(problems({ body: { listing: '{{listing}}' } })).toMatch(
      /reconcile\.summaries\.body.*needs '\{\{scopes\}\}' once, as a whole value/,
    );
    expect(problems({ body: { scopes: 'all: {{scopes}}', listing: '{{listing}}' } })).toMatch(/as a whole value/);
    expect(problems({ body: { scopes: '{{scopes}}' } })).toMatch(/needs \{\{listing\}\} \(true or false\)/);
    expect(problems({ scope: { from: '{{updatedFrom}}' } })).toMatch(
      /reconcile\.summaries\.scope.*needs \{\{updatedFrom\}\} and \{\{updatedTo\}\}/,
    );
    expect(problems({ scope: { from: '{{updatedFrom}}', to: '{{updatedTo}}', at: '{{scopes}}' } })).toMatch(
      /reconcile\.summaries\.scope\.at.*\{\{scopes\}\} is not a placeholder here; expected one of \{\{updatedFrom\}\}/,
    );
    expect(problems({ body: { scopes: '{{scopes}}', listing: '{{listing}}', at: '{{codeFrom}}' } })).toMatch(
      /reconcile\.summaries\.body\.at.*\{\{codeFrom\}\} is not a placeholder here/,
    );
    expect(problems({ digest: undefined })).toMatch(/reconcile\.summaries\.digest/);
  });

  it('holds a listing to the version the fields give', () => {
    const listing = { entriesPath: 'items', dossierCode: 'c', status: 's', updatedAt: 'u' };
    const withVersion = (definition: Record<string, unknown>) => {
      (definition.fields as Record<string, unknown>).sourceVersion = 'version';
    };
    expect(problemsOf({ summary: { path: '/s', query, listing } }, withVersion).join('\n')).toMatch(
      /fields\.sourceVersion gives the version: give listing\.sourceVersion/,
    );
  });
});
