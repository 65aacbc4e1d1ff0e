import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { definitionJsonSchema } from '../../../workers/control-plane/definition-json-schema.js';

it('commits the JSON Schema generated from the validating declarations (run `npm run schema` after a change)', () => {
  const committed = JSON.parse(
    readFileSync(new URL('../../../connectors/declarative/schema.json', import.meta.url), 'utf8'),
  );
  expect(committed).toEqual(definitionJsonSchema());
  expect(Object.keys(committed.properties)).toEqual(
    expect.arrayContaining([
      'id',
      'province',
      'schedule',
      'plugin',
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
    ]),
  );
  expect(committed.additionalProperties).toBe(false);
  // Which sections each kind requires: a code plugin, a polled system, a system that only pushes (with
  // sourceUpdatedAt).
  expect(committed.oneOf.map((kind: { required: string[] }) => kind.required)).toEqual([
    ['plugin'],
    ['http', 'request', 'records', 'fields', 'statuses'],
    ['webhook', 'fields', 'statuses'],
  ]);
  expect(committed.oneOf[2].properties.fields.required).toEqual(['sourceUpdatedAt']);
});
