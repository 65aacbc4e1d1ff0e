import { describe, expect, it } from 'vitest';
import { DefinitionError } from '../../../connectors/sdk/definition-error.js';
import { parseDefinition, parseDefinitionText } from '../../../workers/control-plane/definition.js';
import { validDefinition } from './valid-definition.js';

function problemsOf(change: (definition: Record<string, unknown>) => void): string[] {
  const definition = validDefinition();
  change(definition);
  try {
    parseDefinition(definition);
  } catch (error) {
    if (error instanceof DefinitionError) return error.problems;
    throw error;
  }
  throw new Error('the definition was accepted');
}

describe('a valid definition', () => {
  it('accepts date patterns beside the named formats', () => {
    const definition = validDefinition();
    definition.incremental = {
      cursorField: 'updatedAt',
      cursorFormat: 'dd/MM/yyyy HH:mm',
      requestFormat: "yyyy-MM-dd'T'HH:mm:ssXXX",
    };
    (definition.fields as Record<string, unknown>).dueAt = {
      path: 'timeline.dueAt',
      format: 'yyyy-MM-dd HH:mm:ss.SSS',
    };
    expect(parseDefinition(definition).config).toMatchObject({
      incremental: { cursorFormat: 'dd/MM/yyyy HH:mm' },
      fields: { dueAt: { format: 'yyyy-MM-dd HH:mm:ss.SSS' } },
    });
  });

  it('is accepted with defaults filled in', () => {
    const definition = parseDefinition(validDefinition());
    expect(definition).toMatchObject({
      id: 'hcm-igate',
      sourceProvinceCode: '79',
      sourceCodeSet: '2025',
      kind: 'declarative',
      pollIntervalMs: 30_000,
    });
    expect(definition.config).toMatchObject({
      http: { tls: { rejectUnauthorized: true } },
      incremental: { inclusive: true, timezone: 'Asia/Ho_Chi_Minh' },
      retry: { transientStatusCodes: [408, 429, 500, 502, 503, 504] },
    });
  });
});

describe('an invalid definition gets one line per problem, naming the path and what is expected', () => {
  const cases: [string, (d: Record<string, unknown>) => void, RegExp][] = [
    [
      'id',
      (d) => (d.id = 'HCM IGate'),
      /^id: expected an id of lowercase letters, digits and dashes .*, got "HCM IGate"$/,
    ],
    ['description', (d) => (d.description = 42), /^description: expected text, got 42$/],
    [
      'province',
      (d) => (d.province = { code: 79 }),
      /^province\.code: expected a two-digit province code as text, such as "79", got 79$/,
    ],
    [
      'province (unknown code)',
      (d) => (d.province = { code: '99' }),
      /^province\.code: "99" is not a province of the 2025 code set/,
    ],
    [
      'province (code set)',
      (d) => (d.province = { code: '79', codeSet: 2008 }),
      /^province\.codeSet: expected "2025" or "2008", got 2008$/,
    ],
    [
      'schedule',
      (d) => (d.schedule = { pollIntervalSeconds: 0 }),
      /^schedule\.pollIntervalSeconds: expected a whole number of seconds from 1 to 86400, got 0$/,
    ],
    [
      'plugin',
      (d) => (d.plugin = { name: 'cobol-bridge' }),
      /^http: a plugin connector takes its settings in plugin\.config/,
    ],
    ['http', (d) => (d.http = { baseUrl: 'ftp://x' }), /^http\.baseUrl: expected an http\(s\) URL/],
    [
      'auth',
      (d) => (d.auth = { type: 'apiKey', name: 'X-Api-Key', key: 'hunter2' }),
      /^auth\.key: expected a secret reference, \{env: VARIABLE_NAME\} or \{file: \/path\/to\/secret\}/,
    ],
    [
      'auth (type)',
      (d) => (d.auth = { type: 'kerberos' }),
      /^auth\.type: expected type none, apiKey, bearer, basic or oauth2ClientCredentials/,
    ],
    [
      'request',
      (d) => (d.request = { path: '/x/{{provinceCode}}' }),
      /^request\.path: \{\{provinceCode\}\} is not a placeholder; expected one of \{\{province\}\}/,
    ],
    [
      'pagination',
      (d) => (d.pagination = { type: 'pageNumber', pageSize: '50' }),
      /^pagination\.pageSize: expected a positive integer, got "50"$/,
    ],
    [
      'incremental',
      (d) => (d.incremental = { cursorField: 'updatedAt', cursorFormat: 'dd-MM-YYYY' }),
      /^incremental\.cursorFormat: "dd-MM-YYYY" is not a date format: "YYYY" is not a date token; yyyy is the year\. Expected a shorthand \(yyyyMMddHHmmss, .*, iso\) or a pattern such as dd\/MM\/yyyy HH:mm$/,
    ],
    [
      'incremental (not text)',
      (d) => (d.incremental = { cursorField: 'updatedAt', cursorFormat: 20261127 }),
      /^incremental\.cursorFormat: expected a date format: a shorthand \(yyyyMMddHHmmss, .*\) or a pattern such as dd\/MM\/yyyy HH:mm, got 20261127$/,
    ],
    [
      'incremental (request format)',
      (d) => (d.incremental = { cursorField: 'updatedAt', cursorFormat: 'iso', requestFormat: 'dd/MM HH:mm' }),
      /^incremental\.requestFormat: "dd\/MM HH:mm" is not a date format: it has no year \(yyyy\)/,
    ],
    [
      'fields (date format)',
      (d) => ((d.fields as Record<string, unknown>).dueAt = { path: 'timeline.dueAt', format: 'hh:mm dd/MM/yyyy' }),
      /^fields\.dueAt\.format: "hh:mm dd\/MM\/yyyy" is not a date format: "hh" is not a date token; HH is the hour \(00-23\)/,
    ],
    ['records', (d) => (d.records = {}), /^records\.path: expected a path such as data\.items/],
    [
      'fields',
      (d) => (d.fields = { status: 'state' }),
      /^fields\.dossierCode: expected a path \(text\) or \{path \| constant/,
    ],
    [
      'statuses',
      (d) => (d.statuses = { map: { done: 11 } }),
      /^statuses\.map\.done: expected a national status code 1-10, got 11$/,
    ],
    [
      'rateLimit',
      (d) => (d.rateLimit = { requestsPerSecond: -1 }),
      /^rateLimit\.requestsPerSecond: expected a positive number, got -1$/,
    ],
    ['retry', (d) => (d.retry = { maxAttempts: 100 }), /^retry\.maxAttempts: expected at most 10, got 100$/],
    ['an unknown top-level key', (d) => (d.webhooks = {}), /^\(top level\): unknown key "webhooks"$/],
  ];
  it.each(cases)('%s', (_, change, expected) => {
    const problems = problemsOf(change);
    expect(
      problems.some((problem) => expected.test(problem)),
      problems.join('\n'),
    ).toBe(true);
    for (const problem of problems) expect(problem).not.toContain('\n');
  });

  it('never echoes a secret written in clear', () => {
    const problems = problemsOf((d) => (d.auth = { type: 'bearer', token: 'eyJhbGciOiJIUzI1NiJ9.secret' }));
    expect(problems.join('\n')).not.toContain('eyJhbGciOiJIUzI1NiJ9');
  });

  it('reports a plugin that does not exist', () => {
    const problems = problemsOf((d) => {
      for (const key of [
        'http',
        'auth',
        'request',
        'pagination',
        'incremental',
        'records',
        'fields',
        'statuses',
        'rateLimit',
        'retry',
      ])
        delete d[key];
      d.plugin = { name: 'cobol-bridge', config: {} };
    });
    expect(problems).toEqual([
      expect.stringMatching(/^plugin\.name: "cobol-bridge" is not a connector plugin; expected one of national-rest/),
    ]);
  });

  it('reports a declarative definition without its required sections', () => {
    const problems = problemsOf((d) => delete d.http);
    expect(problems).toContainEqual(expect.stringMatching(/^http: /));
  });

  it('reports YAML that does not parse, and duplicate keys', () => {
    expect(() => parseDefinitionText('id: [unclosed', 'hcm.yaml')).toThrow(/^hcm\.yaml: not valid YAML or JSON/);
    expect(() => parseDefinitionText('id: a\nid: b\n', 'hcm.yaml')).toThrow(
      /^hcm\.yaml: not valid YAML or JSON: Map keys must be unique/,
    );
  });
});
