import { expect, it } from 'vitest';
import { mapNationalRecord } from '../../../connectors/national-rest/national-rest-connector.js';
import { parseSourceDate } from '../../../connectors/sdk/dates.js';
import { catchMappingError } from '../catch-mapping-error.js';
import { nationalRecord } from './national-record.js';

it('rejects a first due date that is not a date even when a moved due date is present', () => {
  const error = catchMappingError(() =>
    mapNationalRecord(nationalRecord({ NgayHenTra: 'garbage', NgayHenTraMoi: '20261210170000' })),
  );
  expect(error.reason).toBe('bad_date');
  expect(error.message).toMatch(/^NgayHenTra:/);
});

it('prefers the moved due date when both are dates', () => {
  const record = mapNationalRecord(nationalRecord({ NgayHenTraMoi: '20261210170000' }));
  expect(record.dueAt?.toISOString()).toBe('2026-12-10T10:00:00.000Z');
});

it('rejects an ISO offset no place on Earth has', () => {
  expect(catchMappingError(() => parseSourceDate('2026-11-27T08:00:00+99:99', 'NgayCapNhat', 'iso')).reason).toBe(
    'bad_date',
  );
  expect(parseSourceDate('2026-11-27T08:00:00+14:00', 'NgayCapNhat', 'iso')?.toISOString()).toBe(
    '2026-11-26T18:00:00.000Z',
  );
});
