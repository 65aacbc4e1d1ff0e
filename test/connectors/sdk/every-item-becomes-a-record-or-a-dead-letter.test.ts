import { describe, expect, it } from 'vitest';
import type { Connector } from '../../../connectors/sdk/connector.js';
import { MappingError } from '../../../connectors/sdk/mapping-error.js';
import { mapItems, normalise } from '../../../connectors/sdk/normalise.js';
import { catchMappingError } from '../catch-mapping-error.js';
import { input, observedAt, origin, passThrough } from './normalise-fixtures.js';

describe('mapItems keeps every item, as a record or as a dead letter', () => {
  it('counts add up and each outcome names its dossier', () => {
    const items = [
      input({ dossierCode: 'A1' }),
      input({ dossierCode: 'A2', status: 99 }),
      input({ dossierCode: 'A3', sourceVersion: 1.5 }),
      input({ dossierCode: 'A4' }),
      input({ dossierCode: '' }),
      input({ dossierCode: 'A6', provinceCode: '27', provinceCodeSet: '2025' }),
      input({ dossierCode: 'A7', dueAt: new Date('not a date') }),
      input({ dossierCode: 'A8', channel: 7 }),
      input({ dossierCode: 'A9' }),
    ];
    const { records, deadLetters } = mapItems(passThrough, items, origin());

    expect(records.length + deadLetters.length).toBe(items.length);
    expect(records.map((record) => record.dossierCode)).toEqual(['A1', 'A4', 'A9']);
    expect(deadLetters.map((letter) => [letter.dossierCode, letter.reason])).toEqual([
      ['A2', 'unknown_status'],
      ['A3', 'bad_value'],
      [null, 'missing_field'],
      ['A6', 'bad_province'],
      ['A7', 'bad_date'],
      ['A8', 'bad_value'],
    ]);
    for (const letter of deadLetters) {
      expect(letter.connectorId).toBe('test-connector');
      expect(letter.provinceCode).toBe('79');
      expect(letter.receivedAt).toBe(observedAt.toISOString());
      expect(letter.message).not.toBe('');
    }
  });

  it('keeps a whole page of bad items, and an empty page gives nothing', () => {
    const items = Array.from({ length: 50 }, (_, index) => input({ dossierCode: `B${index}`, status: 0 }));
    const { records, deadLetters } = mapItems(passThrough, items, origin());
    expect(records).toEqual([]);
    expect(deadLetters).toHaveLength(50);
    expect(new Set(deadLetters.map((letter) => letter.dossierCode)).size).toBe(50);

    expect(mapItems(passThrough, [], origin())).toEqual({ records: [], deadLetters: [] });
  });

  it('stores a valid item in canonical form with dates as ISO UTC text', () => {
    const { records, deadLetters } = mapItems(passThrough, [input()], origin());
    expect(deadLetters).toEqual([]);
    expect(records[0]).toEqual({
      provinceCode: '79',
      dossierCode: 'H56.2026.000001',
      altDossierCode: null,
      sourceProvinceCode: '79',
      sourceCodeSet: '2025',
      procedureCode: '2.000477',
      sectorCode: 'G09-TP',
      agencyCode: '000.00.01.H56',
      channel: 2,
      applicantType: 1,
      status: 4,
      sourceStatus: '4',
      submittedAt: '2026-11-20T01:30:00.000Z',
      receivedAt: '2026-11-20T02:00:00.000Z',
      dueAt: '2026-12-04T10:00:00.000Z',
      finishedAt: null,
      returnedAt: null,
      rejectedAt: null,
      sourceUpdatedAt: '2026-11-27T01:00:00.000Z',
      sourceVersion: 3,
      observedAt: '2026-11-27T03:00:00.000Z',
      connectorId: 'test-connector',
    });
  });
});

describe('normalise rejects a status outside the national list', () => {
  it.each([0, 11, 99, -1, 4.5, '4', null, undefined])('status %j is unknown_status', (status) => {
    const error = catchMappingError(() => normalise(input({ status }), origin(), observedAt.toISOString()));
    expect(error.reason).toBe('unknown_status');
    expect(error.message).toContain('status');
    expect(error.dossierCode).toBe('H56.2026.000001');
  });

  it.each([1, 10])('status %i is accepted', (status) => {
    expect(normalise(input({ status }), origin(), observedAt.toISOString()).status).toBe(status);
  });
});

describe('normalise rejects a version that is not a whole number', () => {
  it.each([1.5, -1, Number.NaN, Number.POSITIVE_INFINITY, '3', null, 2 ** 60])(
    'sourceVersion %j is bad_value',
    (sourceVersion) => {
      const error = catchMappingError(() => normalise(input({ sourceVersion }), origin(), observedAt.toISOString()));
      expect(error.reason).toBe('bad_value');
      expect(error.message).toContain('sourceVersion');
      expect(error.dossierCode).toBe('H56.2026.000001');
    },
  );

  it('accepts 0 and an epoch-millisecond version', () => {
    expect(normalise(input({ sourceVersion: 0 }), origin(), observedAt.toISOString()).sourceVersion).toBe(0);
    expect(
      normalise(input({ sourceVersion: 1_795_741_200_000 }), origin(), observedAt.toISOString()).sourceVersion,
    ).toBe(1_795_741_200_000);
  });

  it('a missing sourceUpdatedAt is missing_field', () => {
    const error = catchMappingError(() =>
      normalise(input({ sourceUpdatedAt: null }), origin(), observedAt.toISOString()),
    );
    expect(error.reason).toBe('missing_field');
    expect(error.message).toContain('sourceUpdatedAt');
  });
});

describe('an unexpected exception in a connector becomes a malformed_record dead letter', () => {
  const personal = 'Nguyễn Văn An, CCCD 001099012345';
  const throwing: Pick<Connector, 'map'> = {
    map: (item) => {
      if ((item as { explode?: boolean }).explode) throw new Error(`cannot read ${personal}`);
      return item as ReturnType<Connector['map']>;
    },
  };

  it('keeps the item, without quoting the exception text', () => {
    const items = [input({ dossierCode: 'C1' }), { explode: true, MaHoSo: 'C2' }, input({ dossierCode: 'C3' })];
    const { records, deadLetters } = mapItems(throwing, items, origin());
    expect(records.map((record) => record.dossierCode)).toEqual(['C1', 'C3']);
    expect(deadLetters).toHaveLength(1);
    const [letter] = deadLetters;
    expect(letter!.reason).toBe('malformed_record');
    expect(letter!.dossierCode).toBeNull();
    expect(letter!.message).not.toContain('Nguyễn');
    expect(letter!.message).not.toContain('001099012345');
    expect(letter!.message).not.toContain('cannot read');
    // A connector that names no mapped fields keeps only the payload's shape.
    expect(letter!.rawPayload).toEqual({ explode: '[boolean]', MaHoSo: '[text: 2 characters]' });
  });

  it('also survives a thrown value that is not an Error', () => {
    const connector: Pick<Connector, 'map'> = {
      map: () => {
        throw personal;
      },
    };
    const { records, deadLetters } = mapItems(connector, [{ MaHoSo: 'C4' }], origin());
    expect(records).toEqual([]);
    expect(deadLetters[0]!.reason).toBe('malformed_record');
    expect(deadLetters[0]!.message).not.toContain('001099012345');
  });

  it('a MappingError keeps its own reason, message and dossier', () => {
    const connector: Pick<Connector, 'map'> = {
      map: () => {
        throw new MappingError('unknown_status', 'TrangThaiHoSo: "X" is not a national status code', 'C5');
      },
    };
    const [letter] = mapItems(connector, [{}], origin()).deadLetters;
    expect(letter).toMatchObject({
      reason: 'unknown_status',
      dossierCode: 'C5',
      message: 'TrangThaiHoSo: "X" is not a national status code',
    });
  });
});
