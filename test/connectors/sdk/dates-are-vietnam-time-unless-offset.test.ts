import { describe, expect, it } from 'vitest';
import { formatVietnamTime, parseSourceDate, type DateFormat } from '../../../connectors/sdk/dates.js';
import { catchMappingError } from '../catch-mapping-error.js';

const iso = (value: string) => new Date(value).toISOString();

describe('parseSourceDate reads every source format', () => {
  it.each<[DateFormat, string, string]>([
    // A time without an offset is Vietnam local time, UTC+7.
    ['yyyyMMddHHmmss', '20261127080000', '2026-11-27T01:00:00.000Z'],
    ['yyyyMMddHHmmss', '20261127065959', '2026-11-26T23:59:59.000Z'],
    ['dd/MM/yyyy HH:mm:ss', '27/11/2026 08:00:00', '2026-11-27T01:00:00.000Z'],
    ['dd/MM/yyyy HH:mm:ss', '01/01/2027 00:30:15', '2026-12-31T17:30:15.000Z'],
    // A date alone is midnight in Vietnam, which is 17:00 UTC the day before.
    ['dd/MM/yyyy', '27/11/2026', '2026-11-26T17:00:00.000Z'],
    ['iso', '2026-11-27T01:00:00Z', '2026-11-27T01:00:00.000Z'],
    ['iso', '2026-11-27T08:00:00+07:00', '2026-11-27T01:00:00.000Z'],
    ['iso', '2026-11-26T20:00:00-05:00', '2026-11-27T01:00:00.000Z'],
    ['iso', '2026-11-27T08:00:00', '2026-11-27T01:00:00.000Z'],
    ['iso', '2026-11-27T08:00:00.250', '2026-11-27T01:00:00.250Z'],
    ['iso', '2026-11-27T01:00:00.123Z', '2026-11-27T01:00:00.123Z'],
    ['iso', '2026-11-27T08:00:00.123456+07:00', '2026-11-27T01:00:00.123Z'],
  ])('%s %s is %s', (format, value, expected) => {
    expect(parseSourceDate(value, 'NgayCapNhat', format)?.toISOString()).toBe(expected);
  });

  it('reads the same instant from every format', () => {
    const expected = iso('2026-11-27T01:00:00Z');
    expect(parseSourceDate('20261127080000', 'x', 'yyyyMMddHHmmss')?.toISOString()).toBe(expected);
    expect(parseSourceDate('27/11/2026 08:00:00', 'x', 'dd/MM/yyyy HH:mm:ss')?.toISOString()).toBe(expected);
    expect(parseSourceDate('2026-11-27T08:00:00', 'x', 'iso')?.toISOString()).toBe(expected);
    expect(parseSourceDate('2026-11-27T01:00:00Z', 'x', 'iso')?.toISOString()).toBe(expected);
  });

  it('accepts a real 29 February and the last second of a day', () => {
    expect(parseSourceDate('29/02/2028', 'NgayHenTra', 'dd/MM/yyyy')?.toISOString()).toBe('2028-02-28T17:00:00.000Z');
    expect(parseSourceDate('20261231235959', 'NgayHenTra', 'yyyyMMddHHmmss')?.toISOString()).toBe(
      '2026-12-31T16:59:59.000Z',
    );
  });
});

describe('parseSourceDate treats an absent value as no date', () => {
  it.each([null, undefined, ''])('%j is null', (value) => {
    for (const format of ['yyyyMMddHHmmss', 'dd/MM/yyyy HH:mm:ss', 'dd/MM/yyyy', 'iso'] as const) {
      expect(parseSourceDate(value, 'NgayTra', format)).toBeNull();
    }
  });
});

describe('parseSourceDate rejects what is not a date with bad_date naming the field', () => {
  it.each<[string, unknown, DateFormat]>([
    ['31 February', '31/02/2026', 'dd/MM/yyyy'],
    ['31 February with a time', '31/02/2026 10:00:00', 'dd/MM/yyyy HH:mm:ss'],
    ['29 February of a common year', '20270229080000', 'yyyyMMddHHmmss'],
    ['31 November', '20261131080000', 'yyyyMMddHHmmss'],
    ['month 13', '20261327080000', 'yyyyMMddHHmmss'],
    ['month 00', '20260027080000', 'yyyyMMddHHmmss'],
    ['day 00', '00/11/2026', 'dd/MM/yyyy'],
    ['hour 25', '27/11/2026 25:00:00', 'dd/MM/yyyy HH:mm:ss'],
    ['hour 24', '20261127240000', 'yyyyMMddHHmmss'],
    ['minute 60', '20261127086000', 'yyyyMMddHHmmss'],
    ['second 60', '2026-11-27T08:00:60', 'iso'],
    ['month 13 in ISO', '2026-13-01T08:00:00Z', 'iso'],
    ['30 February in ISO', '2026-02-30', 'iso'],
    ['garbage', 'không phải ngày', 'yyyyMMddHHmmss'],
    ['garbage ISO', 'tomorrow', 'iso'],
    ['the wrong format', '2026-11-27T08:00:00', 'yyyyMMddHHmmss'],
    ['a short timestamp', '202611270800', 'yyyyMMddHHmmss'],
    ['a number instead of text', 20261127080000, 'yyyyMMddHHmmss'],
    ['an epoch number', 1795741200000, 'iso'],
    ['an object', { date: '20261127080000' }, 'yyyyMMddHHmmss'],
  ])('%s', (_case, value, format) => {
    const error = catchMappingError(() => parseSourceDate(value, 'NgayHenTra', format));
    expect(error.reason).toBe('bad_date');
    expect(error.message).toContain('NgayHenTra');
    expect(error.message).toContain(format);
  });

  it('shortens a very long bad value in the message', () => {
    const error = catchMappingError(() => parseSourceDate('9'.repeat(500), 'NgayNopHoSo', 'yyyyMMddHHmmss'));
    expect(error.reason).toBe('bad_date');
    expect(error.message.length).toBeLessThan(200);
  });
});

describe('formatVietnamTime writes the national portal format in Vietnam time', () => {
  it('writes UTC 01:00 as 08:00 the same day', () => {
    expect(formatVietnamTime(new Date('2026-11-27T01:00:00Z'))).toBe('20261127080000');
  });

  it('moves to the next day, month and year when Vietnam is already there', () => {
    expect(formatVietnamTime(new Date('2026-12-31T17:30:05Z'))).toBe('20270101003005');
  });

  it.each(['20261127080000', '20270101000000', '20280229235959', '20260701000001'])('round-trips %s', (value) => {
    const parsed = parseSourceDate(value, 'NgayCapNhat', 'yyyyMMddHHmmss');
    expect(parsed).not.toBeNull();
    expect(formatVietnamTime(parsed!)).toBe(value);
  });

  it('round-trips an instant through the text form, to the second', () => {
    const instant = new Date('2026-03-15T22:45:31Z');
    expect(parseSourceDate(formatVietnamTime(instant), 'x', 'yyyyMMddHHmmss')?.getTime()).toBe(instant.getTime());
  });
});
