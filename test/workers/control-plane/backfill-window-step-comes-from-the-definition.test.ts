import { expect, it } from 'vitest';
import { DefinitionError } from '../../../connectors/sdk/definition-error.js';
import type { ConnectorRow } from '../../../db/queries/connectors.js';
import { backfillWindowHoursOf } from '../../../workers/control-plane/backfill.js';
import { parseDefinition } from '../../../workers/control-plane/definition.js';

const plugin = (extra: Record<string, unknown>) => ({
  id: 'danang-national',
  province: { code: '48' },
  plugin: { name: 'national-rest', config: { baseUrl: 'http://127.0.0.1:9090' } },
  ...extra,
});

/** The row a registered definition is stored as: its kind, config and the definition as submitted. */
function rowOf(document: Record<string, unknown>): ConnectorRow {
  const definition = parseDefinition(document);
  return { kind: definition.kind, config: definition.config, definition: document } as unknown as ConnectorRow;
}

it("takes the definition's backfill.windowHours, else a windowed declarative definition's own windows, else a day", () => {
  expect(backfillWindowHoursOf(rowOf(plugin({ backfill: { windowHours: 6 } })))).toBe(6);
  expect(backfillWindowHoursOf(rowOf(plugin({})))).toBe(24);
  const windowed = {
    id: 'windowed',
    province: { code: '48' },
    http: { baseUrl: 'http://127.0.0.1:9090' },
    request: { path: '/api/dossiers', query: { updatedSince: '{{windowStart}}', updatedBefore: '{{windowEnd}}' } },
    incremental: { cursorField: 'NgayCapNhat', cursorFormat: 'yyyyMMddHHmmss', windowHours: 12 },
    records: { path: 'items' },
    fields: { dossierCode: 'MaHoSo', status: 'TrangThaiHoSo' },
    statuses: { map: { '1': 1 } },
  };
  expect(backfillWindowHoursOf(rowOf(windowed))).toBe(12);
  expect(backfillWindowHoursOf(rowOf({ ...windowed, backfill: { windowHours: 3 } }))).toBe(3);
});

it('refuses a window step that is not a whole number of hours from 1 to 8760, by path', () => {
  for (const windowHours of [0, 1.5, 9000, '24']) {
    try {
      parseDefinition(plugin({ backfill: { windowHours } }));
      expect.unreachable(`windowHours ${JSON.stringify(windowHours)} was accepted`);
    } catch (error) {
      expect(error).toBeInstanceOf(DefinitionError);
      expect((error as DefinitionError).message).toMatch(
        /backfill\.windowHours: expected a whole number of hours from 1 to 8760/,
      );
    }
  }
  expect(() => parseDefinition(plugin({ backfill: { windowHour: 6 } }))).toThrow(/backfill: unknown key "windowHour"/);
});
