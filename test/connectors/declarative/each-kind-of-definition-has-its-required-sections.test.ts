import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DefinitionError } from '../../../connectors/sdk/definition-error.js';
import { parseDefinition, parseDefinitionText } from '../../../workers/control-plane/definition.js';
import { createConnector, isPolled } from '../../../connectors/plugins.js';
import { canRead } from '../../../connectors/sdk/connector.js';
import { validDefinition } from './valid-definition.js';

// A declarative definition is of one of two kinds, told apart by its sections: polled (http, request, records,
// fields, statuses; webhook too if the system also pushes) or push-only (webhook, fields, statuses and nothing
// about reading the system). Each required field is required: dossierCode, status, and sourceUpdatedAt unless
// incremental.cursorField gives it.

/** A push-only definition: only webhook, fields and statuses. */
const pushOnly = (): Record<string, unknown> => ({
  id: 'danang-push',
  province: { code: '48' },
  webhook: { recordsPath: 'data' },
  fields: { dossierCode: 'code', status: 'state', sourceUpdatedAt: { path: 'changedAt', format: 'iso' } },
  statuses: { preset: 'english' },
});

function problemsOf(definition: Record<string, unknown>): string[] {
  try {
    parseDefinition(definition);
  } catch (error) {
    if (error instanceof DefinitionError) return error.problems;
    throw error;
  }
  throw new Error('the definition was accepted');
}

describe('a push-only definition', () => {
  it('is valid with only webhook, fields and statuses, and builds a connector that cannot be read but maps pushes', () => {
    const definition = parseDefinition(pushOnly());
    expect(definition).toMatchObject({ id: 'danang-push', kind: 'declarative', sourceProvinceCode: '48' });
    expect(Object.keys(definition.config as object).sort()).toEqual(['fields', 'statuses', 'webhook']);
    const connector = createConnector({ ...definition });
    expect(canRead(connector)).toBe(false);
    expect(isPolled(definition)).toBe(false);
    expect(
      connector.webhookItems!({ data: [{ code: 'A-1', state: 'done', changedAt: '2026-11-27T08:00:00' }] }).map(
        (item) => connector.map(item),
      ),
    ).toMatchObject([{ dossierCode: 'A-1', status: 10, sourceUpdatedAt: new Date('2026-11-27T01:00:00Z') }]);
    expect(connector.mappedFields()).toEqual([
      { field: 'dossierCode', path: 'code' },
      { field: 'status', path: 'state' },
      { field: 'sourceUpdatedAt', path: 'changedAt' },
    ]);
  });

  it('is valid with an empty webhook section (the body itself is the update)', () => {
    expect(parseDefinition({ ...pushOnly(), webhook: {} }).config).toMatchObject({ webhook: { recordsPath: '$' } });
  });

  it('needs fields.sourceUpdatedAt: it has no incremental.cursorField to take it from', () => {
    const definition = pushOnly();
    definition.fields = { dossierCode: 'code', status: 'state' };
    expect(problemsOf(definition)).toEqual([
      expect.stringMatching(
        /^fields\.sourceUpdatedAt: expected where each update says when it last changed \(e\.g\. updatedAt\): required, since a push-only connector has no incremental\.cursorField/,
      ),
    ]);
  });

  it('refuses, by name, every section about reading the system and a schedule', () => {
    for (const [key, value] of Object.entries({
      auth: { type: 'none' },
      pagination: { type: 'none' },
      incremental: { cursorField: 'changedAt', cursorFormat: 'iso' },
      rateLimit: {},
      retry: {},
      breaker: {},
    })) {
      expect(problemsOf({ ...pushOnly(), [key]: value }), key).toEqual([
        `${key}: a push-only connector (webhook without http, request and records) is never polled, so it has no ${key}; remove it, or add http, request and records to poll the system`,
      ]);
    }
    expect(problemsOf({ ...pushOnly(), schedule: { pollIntervalSeconds: 30 } })).toEqual([
      expect.stringMatching(/^schedule: a push-only connector .* is never polled, so it has no schedule/),
    ]);
    expect(problemsOf({ ...pushOnly(), backfill: { windowHours: 6 } })).toEqual([
      expect.stringMatching(/^backfill: a push-only connector .* cannot be read, so it has no backfill/),
    ]);
  });

  it('still reports its other problems path by path', () => {
    const problems = problemsOf({ ...pushOnly(), webhook: { recordsPath: 'a..b' }, statuses: { map: { done: 11 } } });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^webhook\.recordsPath: expected a path/),
        expect.stringMatching(/^statuses\.map\.done: expected a national status code 1-10, got 11$/),
      ]),
    );
  });
});

describe('a polled definition', () => {
  it('names each of http, request and records that it lacks, and the push-only alternative', () => {
    const definition = validDefinition();
    delete definition.request;
    delete definition.records;
    const problems = problemsOf(definition);
    expect(problems).toEqual([
      'request: expected the request section (path, method, query, headers, body): a polled connector has http, request and records; one whose system only pushes has none of them, and a webhook section instead, got nothing',
      'records: expected the records section (path to the list of records in a response): a polled connector has http, request and records; one whose system only pushes has none of them, and a webhook section instead, got nothing',
    ]);
  });

  it('needs fields.sourceUpdatedAt without incremental, and not with it', () => {
    const definition = validDefinition();
    delete definition.incremental;
    expect(problemsOf(definition)).toEqual([
      'fields.sourceUpdatedAt: expected where each record says when it last changed (e.g. updatedAt): required unless incremental.cursorField says it',
    ]);
    definition.fields = { ...(definition.fields as object), sourceUpdatedAt: { path: 'updatedAt', format: 'iso' } };
    expect(parseDefinition(definition).config).not.toHaveProperty('incremental');
  });

  it('is polled, and may take pushes too', () => {
    const definition = parseDefinition({ ...validDefinition(), webhook: { recordsPath: 'data' } });
    const connector = createConnector(definition);
    expect(canRead(connector)).toBe(true);
    expect(typeof connector.webhookItems).toBe('function');
    expect(isPolled(definition)).toBe(true);
  });
});

it('a definition with neither the polled sections nor a webhook says what each kind needs, in one line', () => {
  expect(
    problemsOf({
      id: 'x',
      province: { code: '79' },
      fields: { dossierCode: 'code', status: 'state' },
      statuses: { preset: 'english' },
    }),
  ).toEqual([
    '(top level): expected the sections of a polled connector (http, request, records, fields, statuses) or of one whose system only pushes (webhook, fields, statuses); got neither http, request and records nor webhook',
  ]);
});

it('the push-only example in connectors/examples/ is valid and never polled', () => {
  const text = readFileSync(new URL('../../../connectors/examples/danang-push.yaml', import.meta.url), 'utf8');
  const definition = parseDefinitionText(text, 'danang-push.yaml');
  expect(isPolled(definition)).toBe(false);
  const connector = createConnector(definition);
  const sample = JSON.parse(
    readFileSync(new URL('../../../connectors/examples/danang-push.sample.json', import.meta.url), 'utf8'),
  ) as unknown;
  expect(connector.webhookItems!(sample).map((item) => connector.map(item).dossierCode)).toEqual([
    '000.00.15.H49-261120-0001',
    '000.00.12.H48-261121-0002',
  ]);
});
