import { describe, expect, it } from 'vitest';
import { DatePattern, DatePatternError } from '../../../connectors/sdk/date-pattern.js';
import { dateFormats, formatSourceDate, parseSourceDate } from '../../../connectors/sdk/dates.js';
import { catchMappingError } from '../catch-mapping-error.js';

const compile = (text: string) => DatePattern.compile(text);
const parsed = (pattern: string, value: string, offsetMinutes?: number) =>
  compile(pattern).parse(value, 'NgayCapNhat', offsetMinutes)?.toISOString();

describe('a date pattern reads the text it describes', () => {
  it.each<[string, string, string]>([
    // No offset in the text: Vietnam time, UTC+7. No seconds: :00. No time: midnight.
    ['dd/MM/yyyy HH:mm', '27/11/2026 08:05', '2026-11-27T01:05:00.000Z'],
    ['dd/MM/yyyy HH:mm', '01/01/2027 00:30', '2026-12-31T17:30:00.000Z'],
    ['yyyy-MM-dd HH:mm:ss.SSS', '2026-11-27 08:05:09.250', '2026-11-27T01:05:09.250Z'],
    ['yyyyMMdd', '20261127', '2026-11-26T17:00:00.000Z'],
    ['yyyyMMddHHmm', '202611270805', '2026-11-27T01:05:00.000Z'],
    ['dd-MM-yyyy', '27-11-2026', '2026-11-26T17:00:00.000Z'],
    ['yyyy.MM.dd HH:mm', '2026.11.27 08:05', '2026-11-27T01:05:00.000Z'],
    ['dd/MM/yyyy HH:mm:ss,SSS', '27/11/2026 08:05:09,007', '2026-11-27T01:05:09.007Z'],
    // Single letters take one or two digits.
    ['d/M/yyyy H:mm', '7/3/2026 8:05', '2026-03-07T01:05:00.000Z'],
    ['d/M/yyyy H:mm', '07/03/2026 18:05', '2026-03-07T11:05:00.000Z'],
    ['d/M/yyyy H:m:s', '7/3/2026 8:5:9', '2026-03-07T01:05:09.000Z'],
    // Fractions of one to nine digits; the instant keeps milliseconds.
    ['yyyy-MM-ddTHH:mm:ss.SSSSSSS', '2026-11-27T08:05:09.1234567', '2026-11-27T01:05:09.123Z'],
    ['yyyy-MM-ddTHH:mm:ss.S', '2026-11-27T08:05:09.5', '2026-11-27T01:05:09.500Z'],
    // Quoted literals, and T unquoted.
    ["yyyy-MM-dd'T'HH:mm:ss", '2026-11-27T08:05:09', '2026-11-27T01:05:09.000Z'],
    ["HH'h'mm 'ngày' dd/MM/yyyy", '08h05 ngày 27/11/2026', '2026-11-27T01:05:00.000Z'],
    ["dd/MM/yyyy HH:mm 'o''clock'", "27/11/2026 08:05 o'clock", '2026-11-27T01:05:00.000Z'],
    // An offset in the text wins over the definition's zone, in every spelling.
    ['yyyy-MM-ddTHH:mm:ssXXX', '2026-11-27T08:05:09+07:00', '2026-11-27T01:05:09.000Z'],
    ['yyyy-MM-ddTHH:mm:ssXXX', '2026-11-27T01:05:09Z', '2026-11-27T01:05:09.000Z'],
    ['yyyy-MM-ddTHH:mm:ssXXX', '2026-11-27T08:05:09+0700', '2026-11-27T01:05:09.000Z'],
    ['yyyy-MM-ddTHH:mm:ssXXX', '2026-11-26T20:05:09-05:00', '2026-11-27T01:05:09.000Z'],
    ['yyyy-MM-ddTHH:mm:ssX', '2026-11-27T08:05:09+07', '2026-11-27T01:05:09.000Z'],
    ['yyyy-MM-dd HH:mm:ss Z', '2026-11-27 06:35:09 +0530', '2026-11-27T01:05:09.000Z'],
    ['dd/MM/yyyy HH:mm:ss.SSSxxx', '27/11/2026 08:05:09.001+07:00', '2026-11-27T01:05:09.001Z'],
    // Optional parts: an offset a vendor sometimes leaves out, a time it sometimes leaves out.
    ['yyyy-MM-ddTHH:mm:ss[XXX]', '2026-11-27T01:05:09Z', '2026-11-27T01:05:09.000Z'],
    ['yyyy-MM-ddTHH:mm:ss[XXX]', '2026-11-27T08:05:09', '2026-11-27T01:05:09.000Z'],
    ['dd/MM/yyyy[ HH:mm[:ss]]', '27/11/2026', '2026-11-26T17:00:00.000Z'],
    ['dd/MM/yyyy[ HH:mm[:ss]]', '27/11/2026 08:05', '2026-11-27T01:05:00.000Z'],
    ['dd/MM/yyyy[ HH:mm[:ss]]', '27/11/2026 08:05:09', '2026-11-27T01:05:09.000Z'],
    // A separator in the same optional part as a one-or-two-digit token separates it.
    ['d/M/yyyy[ H:mm]', '7/3/2026 8:05', '2026-03-07T01:05:00.000Z'],
    ['d/M/yyyy[ H:mm]', '7/3/2026', '2026-03-06T17:00:00.000Z'],
    // Surrounding space is not part of the date.
    ['dd/MM/yyyy HH:mm', '  27/11/2026 08:05 ', '2026-11-27T01:05:00.000Z'],
    // A real 29 February, the last minute of a year.
    ['dd/MM/yyyy HH:mm', '29/02/2028 23:59', '2028-02-29T16:59:00.000Z'],
    ['dd/MM/yyyy HH:mm', '31/12/2026 23:59', '2026-12-31T16:59:00.000Z'],
  ])('%s reads %j as %s', (pattern, value, expected) => {
    expect(parsed(pattern, value)).toBe(expected);
  });

  it('reads a time without an offset in the zone it is given, and one with an offset as written', () => {
    expect(parsed('dd/MM/yyyy HH:mm', '27/11/2026 08:05', 0)).toBe('2026-11-27T08:05:00.000Z');
    expect(parsed('dd/MM/yyyy HH:mm', '27/11/2026 08:05', -5 * 60)).toBe('2026-11-27T13:05:00.000Z');
    expect(parsed('yyyy-MM-ddTHH:mm:ss[XXX]', '2026-11-27T08:05:09', 0)).toBe('2026-11-27T08:05:09.000Z');
    expect(parsed('yyyy-MM-ddTHH:mm:ss[XXX]', '2026-11-27T08:05:09+07:00', 0)).toBe('2026-11-27T01:05:09.000Z');
  });

  it('treats an absent value as no date', () => {
    for (const value of [null, undefined, '']) expect(compile('dd/MM/yyyy HH:mm').parse(value, 'NgayTra')).toBeNull();
  });
});

describe('a date pattern refuses a value that is not a date in it, as bad_date naming the field and the pattern', () => {
  it.each<[string, string, unknown]>([
    ['31 February', 'dd/MM/yyyy HH:mm', '31/02/2026 08:05'],
    ['29 February of a common year', 'dd/MM/yyyy HH:mm', '29/02/2027 08:05'],
    ['month 13', 'dd/MM/yyyy HH:mm', '27/13/2026 08:05'],
    ['day 00', 'd/M/yyyy', '0/3/2026'],
    ['hour 24', 'dd/MM/yyyy HH:mm', '27/11/2026 24:00'],
    ['minute 60', 'dd/MM/yyyy HH:mm', '27/11/2026 08:60'],
    ['second 60', 'yyyy-MM-dd HH:mm:ss.SSS', '2026-11-27 08:05:60.000'],
    ['seconds the pattern does not have', 'dd/MM/yyyy HH:mm', '27/11/2026 08:05:00'],
    ['a missing time the pattern requires', 'dd/MM/yyyy HH:mm', '27/11/2026'],
    ['too few fraction digits', 'yyyy-MM-dd HH:mm:ss.SSS', '2026-11-27 08:05:09.25'],
    ['three digits for a single letter', 'd/M/yyyy', '7/123/2026'],
    ['another separator', 'yyyy.MM.dd', '2026x11x27'],
    ['an offset the pattern does not have', 'dd/MM/yyyy HH:mm', '27/11/2026 08:05+07:00'],
    ['an offset past +14:00', 'yyyy-MM-ddTHH:mm:ssXXX', '2026-11-27T08:05:09+15:00'],
    ['an offset with minute 60', 'yyyy-MM-ddTHH:mm:ssXXX', '2026-11-27T08:05:09+07:60'],
    ['a missing offset the pattern requires', 'yyyy-MM-ddTHH:mm:ssXXX', '2026-11-27T08:05:09'],
    ['a missing quoted literal', "HH'h'mm dd/MM/yyyy", '08:05 27/11/2026'],
    ['a year before 100', 'dd/MM/yyyy', '01/01/0001'],
    ['garbage', 'dd/MM/yyyy HH:mm', 'không phải ngày'],
    ['a number instead of text', 'yyyyMMddHHmm', 202611270805],
    ['an object', 'dd/MM/yyyy HH:mm', { date: '27/11/2026 08:05' }],
  ])('%s', (_case, pattern, value) => {
    const error = catchMappingError(() => compile(pattern).parse(value, 'NgayHenTra'));
    expect(error.reason).toBe('bad_date');
    expect(error.message).toContain('NgayHenTra');
    expect(error.message).toContain(pattern);
  });
});

describe('a date pattern writes an instant in its own form, in the zone it is given', () => {
  const instant = new Date('2026-03-07T01:05:09.007Z');
  it.each<[string, string]>([
    ['dd/MM/yyyy HH:mm', '07/03/2026 08:05'],
    ['yyyy-MM-dd HH:mm:ss.SSS', '2026-03-07 08:05:09.007'],
    ['d/M/yyyy H:mm', '7/3/2026 8:05'],
    ['yyyyMMdd', '20260307'],
    ["HH'h'mm 'ngày' dd/MM/yyyy", '08h05 ngày 07/03/2026'],
    ['yyyy-MM-ddTHH:mm:ssXXX', '2026-03-07T08:05:09+07:00'],
    ['yyyy-MM-ddTHH:mm:ssXX', '2026-03-07T08:05:09+0700'],
    ['yyyy-MM-ddTHH:mm:ssX', '2026-03-07T08:05:09+07'],
    ['yyyy-MM-ddTHH:mm:ss Z', '2026-03-07T08:05:09 +0700'],
    ['yyyy-MM-ddTHH:mm:ss.SSSSSS', '2026-03-07T08:05:09.007000'],
    ['yyyy-MM-ddTHH:mm:ss.S', '2026-03-07T08:05:09.0'],
    // Optional parts are written.
    ['dd/MM/yyyy[ HH:mm[:ss]]', '07/03/2026 08:05:09'],
  ])('%s writes %j', (pattern, expected) => {
    expect(compile(pattern).format(instant)).toBe(expected);
  });

  it('writes UTC as Z with X letters and as +00:00 with x letters', () => {
    expect(compile('yyyy-MM-ddTHH:mm:ssXXX').format(instant, 0)).toBe('2026-03-07T01:05:09Z');
    expect(compile('yyyy-MM-ddTHH:mm:ssxxx').format(instant, 0)).toBe('2026-03-07T01:05:09+00:00');
    expect(compile('yyyy-MM-ddTHH:mm:ssXXX').format(instant, -(3 * 60 + 30))).toBe('2026-03-06T21:35:09-03:30');
  });

  it('truncates what it cannot write, never rounding up', () => {
    expect(compile('dd/MM/yyyy HH:mm').format(new Date('2026-11-27T01:05:59.999Z'))).toBe('27/11/2026 08:05');
    expect(compile('dd/MM/yyyy').format(new Date('2026-11-27T16:59:59.999Z'))).toBe('27/11/2026');
    expect(compile('dd/MM/yyyy').format(new Date('2026-11-27T17:00:00.000Z'))).toBe('28/11/2026');
  });

  it('knows the smallest unit it writes', () => {
    expect(compile('dd/MM/yyyy').precisionMs).toBe(86_400_000);
    expect(compile('dd/MM/yyyy HH').precisionMs).toBe(3_600_000);
    expect(compile('dd/MM/yyyy HH:mm').precisionMs).toBe(60_000);
    expect(compile('dd/MM/yyyy[ HH:mm[:ss]]').precisionMs).toBe(1000);
    expect(compile('yyyy-MM-dd HH:mm:ss.S').precisionMs).toBe(100);
    expect(compile('yyyy-MM-dd HH:mm:ss.SSS').precisionMs).toBe(1);
    expect(compile('iso').precisionMs).toBe(1000);
  });

  it.each([
    'dd/MM/yyyy HH:mm',
    'yyyy-MM-dd HH:mm:ss.SSS',
    'd/M/yyyy H:m:s',
    'yyyy-MM-ddTHH:mm:ssXXX',
    'yyyyMMdd',
    "HH'h'mm dd/MM/yyyy",
    'dd/MM/yyyy[ HH:mm[:ss]]',
    'iso',
    ...dateFormats,
  ])('%s reads back what it writes: the instant truncated to its unit, in any zone', (text) => {
    const pattern = compile(text);
    for (const offset of [7 * 60, 0, -(9 * 60 + 30), 14 * 60]) {
      // 500 instants spread over 150 years, at any millisecond of the day.
      for (let i = 0; i < 500; i += 1) {
        const instant = new Date(Date.UTC(1950, 0, 1) + ((i * 9_467_012_345_677) % (150 * 365 * 86_400_000)));
        const back = pattern.parse(pattern.format(instant, offset), 'x', offset)!;
        const local = instant.getTime() + offset * 60_000;
        const truncated =
          local - (((local % pattern.precisionMs) + pattern.precisionMs) % pattern.precisionMs) - offset * 60_000;
        expect(back.getTime()).toBe(truncated);
      }
    }
  });
});

describe('a pattern that cannot be a date is refused when it is compiled, saying what is wrong and what is expected', () => {
  it.each<[string, string, RegExp]>([
    ['an upper-case year', 'dd/MM/YYYY', /"YYYY" is not a date token; yyyy is the year/],
    ['an upper-case day', 'DD/MM/yyyy', /"DD" is not a date token; dd is the day/],
    ['a 12-hour clock', 'dd/MM/yyyy hh:mm', /"hh" is not a date token; HH is the hour \(00-23\)/],
    ['a letter that is no token', 'dd/MM/yyyy EEE', /"EEE" is not a date token/],
    ['a two-digit year', 'dd/MM/yy', /"yy" is not a date token; yyyy is the year/],
    ['too many digits', 'ddd/MM/yyyy', /"ddd" is not a date token/],
    ['no year', 'dd/MM HH:mm', /has no year \(yyyy\)/],
    ['no day', 'MM/yyyy', /has no day \(dd or d\)/],
    ['no month', 'dd yyyy', /has no month \(MM or M\)/],
    ['minutes without hours', 'dd/MM/yyyy mm', /minutes \(mm\) need the hour \(HH\)/],
    ['seconds without minutes', 'dd/MM/yyyy HH ss', /seconds \(ss\) need the minutes \(mm\)/],
    ['a fraction without seconds', 'dd/MM/yyyy HH:mm.SSS', /a fraction \(S\) needs the seconds \(ss\)/],
    ['the day twice', 'dd/MM/yyyy dd', /has the day twice/],
    ['two offsets', 'yyyy-MM-ddTHH:mm:ssXXX Z', /has the offset twice/],
    [
      'one digit next to another number',
      'yyyyMd',
      /"M" takes one or two digits, so it needs a separator from the number beside it; use MM/,
    ],
    [
      'one digit next to another number but for an optional separator',
      'd[/]M/yyyy',
      /"d" takes one or two digits, so it needs a separator/,
    ],
    ['an unclosed quote', "yyyy-MM-dd'T", /a quote ' is not closed/],
    ['an unclosed optional part', 'dd/MM/yyyy[ HH:mm', /an optional part \[ is not closed/],
    ['an unopened optional part', 'dd/MM/yyyy HH:mm]', /\] closes no optional part/],
    ['an optional day', 'yyyy-MM[-dd]', /the day cannot be optional/],
    [
      'a quoted Z',
      "yyyy-MM-dd'T'HH:mm:ss'Z'",
      /'Z' in quotes is text, so the time would be read in the definition's zone; use X, which reads Z and offsets/,
    ],
    ['nothing', '', /is empty/],
    ['too long', `dd/MM/yyyy${"' '".repeat(40)}`, /longer than 100 characters/],
  ])('%s', (_case, text, expected) => {
    let error: unknown;
    try {
      compile(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DatePatternError);
    expect((error as Error).message).toMatch(expected);
    expect((error as Error).message).not.toContain('\n');
  });
});

describe('the five named formats are shorthands that keep their meaning', () => {
  const instant = new Date('2026-12-31T17:30:05.250Z');
  it.each<[string, string, string]>([
    ['yyyyMMddHHmmss', '20270101003005', '2026-12-31T17:30:05.000Z'],
    ['dd/MM/yyyy HH:mm:ss', '01/01/2027 00:30:05', '2026-12-31T17:30:05.000Z'],
    ['dd/MM/yyyy', '01/01/2027', '2026-12-31T17:00:00.000Z'],
    ['yyyy-MM-ddTHH:mm:ss', '2027-01-01T00:30:05', '2026-12-31T17:30:05.000Z'],
    ['iso', '2027-01-01T00:30:05+07:00', '2026-12-31T17:30:05.000Z'],
  ])('%s writes %s and reads it back', (name, written, read) => {
    expect(formatSourceDate(instant, name as (typeof dateFormats)[number])).toBe(written);
    expect(compile(name).format(instant)).toBe(written);
    expect(parseSourceDate(written, 'x', name as (typeof dateFormats)[number])?.toISOString()).toBe(read);
    expect(compile(name).parse(written, 'x')?.toISOString()).toBe(read);
  });

  it('keeps iso flexible: a space or T, optional seconds and fraction, any offset spelling', () => {
    const iso = compile('iso');
    expect(iso.parse('2026-11-27 08:05', 'x')?.toISOString()).toBe('2026-11-27T01:05:00.000Z');
    expect(iso.parse('2026-11-27', 'x')?.toISOString()).toBe('2026-11-26T17:00:00.000Z');
    expect(iso.parse('2026-11-27T08:05:09.123456+0700', 'x')?.toISOString()).toBe('2026-11-27T01:05:09.123Z');
    expect(iso.parse('2026-11-27T01:05:09Z', 'x')?.toISOString()).toBe('2026-11-27T01:05:09.000Z');
  });
});
