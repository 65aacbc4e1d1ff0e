import { MappingError } from './mapping-error.js';
import { quoteSourceValue } from './personal-data.js';

/** Vietnam's offset from UTC, in minutes: times without an offset are in it unless a definition says otherwise. */
export const vietnamOffsetMinutes = 7 * 60;

/** Why a text cannot be a date pattern; `message` says what is wrong and what is expected. */
export class DatePatternError extends Error {
  override readonly name = 'DatePatternError';
  constructor(
    /** The pattern as written. */
    readonly pattern: string,
    problem: string,
  ) {
    super(problem);
  }
}

type Unit = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'fraction' | 'offset';
/**
 * How an offset is written: `X` ±HH (and mm when not whole hours), `XX`/`Z` ±HHmm, `XXX` ±HH:mm; `X` letters write UTC
 * as Z.
 */
interface OffsetStyle {
  colon: boolean;
  minutes: 'always' | 'whenNotWhole';
  zulu: boolean;
}
interface FieldToken {
  kind: 'field';
  letters: string;
  unit: Unit;
  /** Digits written; read exactly, or 1 to `digits` when `variable`. */
  digits: number;
  variable: boolean;
  offset?: OffsetStyle;
}
type Part = { kind: 'literal'; text: string; quoted: boolean } | FieldToken | { kind: 'optional'; parts: Part[] };

const maxPatternLength = 100;
const fixedTokens: Record<string, Omit<FieldToken, 'kind' | 'letters'>> = {
  yyyy: { unit: 'year', digits: 4, variable: false },
  MM: { unit: 'month', digits: 2, variable: false },
  M: { unit: 'month', digits: 2, variable: true },
  dd: { unit: 'day', digits: 2, variable: false },
  d: { unit: 'day', digits: 2, variable: true },
  HH: { unit: 'hour', digits: 2, variable: false },
  H: { unit: 'hour', digits: 2, variable: true },
  mm: { unit: 'minute', digits: 2, variable: false },
  m: { unit: 'minute', digits: 2, variable: true },
  ss: { unit: 'second', digits: 2, variable: false },
  s: { unit: 'second', digits: 2, variable: true },
  X: { unit: 'offset', digits: 0, variable: false, offset: { colon: false, minutes: 'whenNotWhole', zulu: true } },
  XX: { unit: 'offset', digits: 0, variable: false, offset: { colon: false, minutes: 'always', zulu: true } },
  XXX: { unit: 'offset', digits: 0, variable: false, offset: { colon: true, minutes: 'always', zulu: true } },
  x: { unit: 'offset', digits: 0, variable: false, offset: { colon: false, minutes: 'whenNotWhole', zulu: false } },
  xx: { unit: 'offset', digits: 0, variable: false, offset: { colon: false, minutes: 'always', zulu: false } },
  xxx: { unit: 'offset', digits: 0, variable: false, offset: { colon: true, minutes: 'always', zulu: false } },
  Z: { unit: 'offset', digits: 0, variable: false, offset: { colon: false, minutes: 'always', zulu: false } },
};
const tokenList =
  'yyyy, MM, M, dd, d, HH, H, mm, m, ss, s, S to SSSSSSSSS (fraction digits), X, XX, XXX, x, xx, xxx, Z (offset)';
/** What a letter a pattern cannot use probably meant. */
const hints: Record<string, string> = {
  y: 'yyyy is the year',
  Y: 'yyyy is the year',
  u: 'yyyy is the year',
  D: 'dd is the day of the month',
  d: 'dd is the day of the month',
  M: 'MM is the month as a number (names are not supported)',
  L: 'MM is the month as a number (names are not supported)',
  h: 'HH is the hour (00-23)',
  k: 'HH is the hour (00-23)',
  K: 'HH is the hour (00-23)',
  H: 'HH is the hour (00-23)',
  a: 'HH is the hour (00-23); a 12-hour clock with AM/PM is not supported',
  m: 'mm is the minutes',
  s: 'ss is the seconds',
  S: 'S to SSSSSSSSS are one to nine fraction digits',
  f: 'S to SSSSSSSSS are one to nine fraction digits',
  X: 'XXX is the offset',
  x: 'XXX is the offset',
  Z: 'XXX is the offset',
  z: 'XXX is the offset (zone names are not supported)',
  E: 'day names are not supported',
};
const unitNames: Record<Unit, string> = {
  year: 'year',
  month: 'month',
  day: 'day',
  hour: 'hour',
  minute: 'minutes',
  second: 'seconds',
  fraction: 'fraction',
  offset: 'offset',
};
const unitMs: Partial<Record<Unit, number>> = { day: 86_400_000, hour: 3_600_000, minute: 60_000, second: 1000 };

/** Splits a pattern into literals, tokens and optional parts; throws DatePatternError. */
function tokenize(pattern: string): Part[] {
  const fail = (problem: string): never => {
    throw new DatePatternError(pattern, problem);
  };
  const stack: Part[][] = [[]];
  const top = () => stack[stack.length - 1]!;
  let i = 0;
  while (i < pattern.length) {
    const char = pattern[i]!;
    if (char === "'" && pattern[i + 1] === "'") {
      // '' is one quote, inside quotes or out.
      top().push({ kind: 'literal', text: "'", quoted: false });
      i += 2;
    } else if (char === "'") {
      // 'text' is literal text.
      let text = '';
      let j = i + 1;
      for (;;) {
        if (j >= pattern.length)
          fail(`a quote ' is not closed; put literal letters in quotes, such as 'T', and write '' for a quote itself`);
        if (pattern[j] === "'") {
          if (pattern[j + 1] === "'") {
            text += "'";
            j += 2;
            continue;
          }
          break;
        }
        text += pattern[j];
        j += 1;
      }
      top().push({ kind: 'literal', text, quoted: true });
      i = j + 1;
    } else if (char === '[') {
      const parts: Part[] = [];
      top().push({ kind: 'optional', parts });
      stack.push(parts);
      i += 1;
    } else if (char === ']') {
      if (stack.length === 1) fail('] closes no optional part; optional parts are written [like this]');
      stack.pop();
      i += 1;
    } else if (/[A-Za-z]/.test(char)) {
      let j = i;
      while (pattern[j] === char) j += 1;
      const letters = pattern.slice(i, j);
      i = j;
      if (char === 'T') {
        // T is the ISO separator and no token: literal, as in yyyy-MM-ddTHH:mm:ss.
        top().push({ kind: 'literal', text: letters, quoted: false });
        continue;
      }
      const fixed = fixedTokens[letters];
      if (fixed) top().push({ kind: 'field', letters, ...fixed });
      else if (char === 'S' && letters.length <= 9)
        top().push({ kind: 'field', letters, unit: 'fraction', digits: letters.length, variable: false });
      else
        fail(
          `"${letters}" is not a date token; ${hints[char] ?? `expected one of ${tokenList}, with other letters in quotes, such as 'h'`}`,
        );
    } else {
      top().push({ kind: 'literal', text: char, quoted: false });
      i += 1;
    }
  }
  if (stack.length > 1) fail('an optional part [ is not closed; optional parts are written [like this]');
  return stack[0]!;
}

/** A token or a literal in reading order, with the optional parts it sits in (their ids, outermost first). */
interface FlatPart {
  token: FieldToken | null;
  literal?: Extract<Part, { kind: 'literal' }>;
  groups: number[];
}

/** Every token and literal in reading order, with the optional parts each sits in. */
function flatten(parts: Part[], groups: number[] = [], ids = { next: 1 }): FlatPart[] {
  return parts.flatMap((part): FlatPart[] => {
    if (part.kind === 'optional') return flatten(part.parts, [...groups, ids.next++], ids);
    if (part.kind === 'literal') return [{ token: null, literal: part, groups }];
    return [{ token: part, groups }];
  });
}

/** Checks that the tokens describe one instant that can be read back; throws DatePatternError. */
function checkStructure(pattern: string, parts: Part[]): void {
  const fail = (problem: string): never => {
    throw new DatePatternError(pattern, problem);
  };
  const flat = flatten(parts);
  const seen = new Map<Unit, FieldToken>();
  for (const { token, groups, literal } of flat) {
    const optional = groups.length > 0;
    if (literal?.quoted && literal.text === 'Z')
      fail(
        `'Z' in quotes is text, so the time would be read in the definition's zone; use X, which reads Z and offsets such as +07:00`,
      );
    if (!token) continue;
    if (seen.has(token.unit)) fail(`it has the ${unitNames[token.unit]} twice`);
    seen.set(token.unit, token);
    if (optional && (token.unit === 'year' || token.unit === 'month' || token.unit === 'day'))
      fail(`the ${token.unit} cannot be optional; only a time or an offset can be left out`);
  }
  if (!seen.has('year')) fail('it has no year (yyyy)');
  if (!seen.has('month')) fail('it has no month (MM or M)');
  if (!seen.has('day')) fail('it has no day (dd or d)');
  if (seen.has('minute') && !seen.has('hour')) fail('minutes (mm) need the hour (HH)');
  if (seen.has('second') && !seen.has('minute')) fail('seconds (ss) need the minutes (mm)');
  if (seen.has('fraction') && !seen.has('second')) fail('a fraction (S) needs the seconds (ss)');
  // A one-or-two-digit number beside another number cannot be split: 1112026 is 1/11/2026 or 11/1/2026. A
  // literal separates them only if it is there whenever the token is (not in an optional part of its own).
  const nextToNumber = (index: number, step: 1 | -1): boolean => {
    const { groups } = flat[index]!;
    for (let at = index + step; at >= 0 && at < flat.length; at += step) {
      const entry = flat[at]!;
      if (entry.token) return entry.token.unit !== 'offset';
      if (entry.groups.length <= groups.length && entry.groups.every((id, depth) => groups[depth] === id)) return false;
    }
    return false;
  };
  flat.forEach((entry, index) => {
    if (entry.token?.variable && (nextToNumber(index, -1) || nextToNumber(index, 1))) {
      fail(
        `"${entry.token.letters}" takes one or two digits, so it needs a separator from the number beside it; use ${entry.token.letters.repeat(2)}`,
      );
    }
  });
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const pad = (value: number, width: number) => String(value).padStart(width, '0');

/** Days in a month of the proleptic Gregorian calendar. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** The instant of local fields at an offset, or null when a field is out of range (31/02, 24:00, 60 minutes). */
function instantOf(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  millis: number,
  offsetMinutes: number,
): Date | null {
  // Date.UTC reads years 0-99 as 1900-1999: such a year is no real update time anyway.
  if (
    year < 100 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth(year, month) ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  )
    return null;
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, millis) - offsetMinutes * 60_000);
}

/** Minutes east of UTC of an offset as written (Z, ±HH, ±HHmm, ±HH:mm); null past ±14:00 or minute 59. */
function offsetMinutesOf(text: string): number | null {
  if (text === 'Z') return 0;
  const hours = Number(text.slice(1, 3));
  const minutes = text.length > 3 ? Number(text.slice(-2)) : 0;
  // Real offsets run from -12:00 to +14:00.
  if (hours > 14 || minutes > 59) return null;
  return (text[0] === '-' ? -1 : 1) * (hours * 60 + minutes);
}

const offsetRegex = '(Z|[+-]\\d{2}(?::?\\d{2})?)';
const isoRegex = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Reads ISO 8601 as vendors write it: T or a space, seconds and fraction optional, an offset or none. */
function readIso(text: string, localOffset: number): Date | null {
  const match = isoRegex.exec(text);
  if (!match) return null;
  const millis = match[7] ? Number(match[7].slice(0, 3).padEnd(3, '0')) : 0;
  const offset = match[8] ? offsetMinutesOf(match[8]) : localOffset;
  if (offset === null) return null;
  return instantOf(
    +match[1]!,
    +match[2]!,
    +match[3]!,
    numberAt(match, 4),
    numberAt(match, 5),
    numberAt(match, 6),
    millis,
    offset,
  );
}

/** The number in a match's group; 0 for a unit the pattern lacks (group 0) or an optional part left out. */
function numberAt(match: RegExpExecArray, group: number): number {
  if (group === 0) return 0;
  const digits = match[group];
  return digits === undefined ? 0 : +digits;
}

/** The regex group of each unit, in order of appearance; 0 for a unit the pattern lacks. */
type Groups = Record<Unit, number>;

/** The regex that reads a pattern's text, and where each unit's digits are in a match. */
function readerOf(parts: Part[]): { regex: RegExp; groups: Groups; fractionDigits: number } {
  const groups: Groups = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, fraction: 0, offset: 0 };
  let fractionDigits = 0;
  let count = 0;
  const source = (list: Part[]): string =>
    list
      .map((part) => {
        if (part.kind === 'literal') return escapeRegex(part.text.normalize('NFC'));
        if (part.kind === 'optional') return `(?:${source(part.parts)})?`;
        groups[part.unit] = ++count;
        if (part.unit === 'offset') return offsetRegex;
        if (part.unit === 'fraction') fractionDigits = part.digits;
        return part.variable ? `(\\d{1,${part.digits}})` : `(\\d{${part.digits}})`;
      })
      .join('');
  return { regex: new RegExp(`^${source(parts)}$`), groups, fractionDigits };
}

/** Writes one token of an instant's local fields. */
function writeToken(token: FieldToken, local: Date, offsetMinutes: number): string {
  const width = token.variable ? 1 : token.digits;
  switch (token.unit) {
    case 'year':
      return pad(local.getUTCFullYear(), width);
    case 'month':
      return pad(local.getUTCMonth() + 1, width);
    case 'day':
      return pad(local.getUTCDate(), width);
    case 'hour':
      return pad(local.getUTCHours(), width);
    case 'minute':
      return pad(local.getUTCMinutes(), width);
    case 'second':
      return pad(local.getUTCSeconds(), width);
    case 'fraction':
      // Truncated, never rounded: a written time is never later than the instant.
      return pad(local.getUTCMilliseconds(), 3).padEnd(token.digits, '0').slice(0, token.digits);
    case 'offset': {
      const style = token.offset!;
      if (offsetMinutes === 0 && style.zulu) return 'Z';
      const abs = Math.abs(offsetMinutes);
      const [hours, minutes] = [pad(Math.floor(abs / 60), 2), pad(abs % 60, 2)];
      const sign = offsetMinutes < 0 ? '-' : '+';
      if (style.minutes === 'whenNotWhole' && abs % 60 === 0) return `${sign}${hours}`;
      return `${sign}${hours}${style.colon ? ':' : ''}${minutes}`;
    }
  }
}

/** Literals and tokens in writing order: optional parts are written in full. */
function writerOf(parts: Part[]): (string | FieldToken)[] {
  return parts.flatMap((part) =>
    part.kind === 'literal' ? [part.text] : part.kind === 'optional' ? writerOf(part.parts) : [part],
  );
}

/** The smallest unit a writer writes, in milliseconds. */
function precisionOf(writer: (string | FieldToken)[]): number {
  let precision = unitMs.day!;
  for (const part of writer) {
    if (typeof part === 'string') continue;
    const ms = part.unit === 'fraction' ? Math.max(1, 10 ** (3 - part.digits)) : unitMs[part.unit];
    if (ms !== undefined && ms < precision) precision = ms;
  }
  return precision;
}

function zoneName(offsetMinutes: number): string {
  if (offsetMinutes === vietnamOffsetMinutes) return 'Vietnam time';
  if (offsetMinutes === 0) return 'UTC';
  const abs = Math.abs(offsetMinutes);
  return `UTC${offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(abs / 60), 2)}:${pad(abs % 60, 2)}`;
}

/**
 * A date format compiled once: a pattern of the usual tokens (`dd/MM/yyyy HH:mm`, `yyyy-MM-dd HH:mm:ss.SSS`,
 * `yyyy-MM-dd'T'HH:mm:ssXXX`, optional parts in brackets) or `iso`, with a reader for source values and a
 * writer for request parameters. A time written without an offset is in the zone the caller gives (Vietnam,
 * UTC+7, by default); missing parts default to the start (no time: midnight, no seconds: :00).
 */
export class DatePattern {
  /** The smallest unit the pattern writes, in milliseconds: 60,000 for `dd/MM/yyyy HH:mm`. */
  readonly precisionMs: number;

  private constructor(
    /** The pattern as written in the definition. */
    readonly text: string,
    private readonly read: (text: string, offsetMinutes: number) => Date | null,
    private readonly writer: (string | FieldToken)[],
    /** Whether values must be NFC-normalised before matching: the pattern has non-ASCII literal text. */
    private readonly normalises: boolean,
  ) {
    this.precisionMs = precisionOf(writer);
  }

  /** Compiles a pattern or the shorthand `iso`; throws DatePatternError saying what is wrong. */
  static compile(text: string): DatePattern {
    if (text === 'iso') return new DatePattern(text, readIso, writerOf(tokenize("yyyy-MM-dd'T'HH:mm:ssxxx")), false);
    if (text.length === 0) throw new DatePatternError(text, 'the pattern is empty');
    if (text.length > maxPatternLength)
      throw new DatePatternError(text, `the pattern is longer than ${maxPatternLength} characters`);
    const parts = tokenize(text);
    checkStructure(text, parts);
    const { regex, groups, fractionDigits } = readerOf(parts);
    const { year, month, day, hour, minute, second, fraction, offset } = groups;
    const fractionScale = fractionDigits < 3 ? 10 ** (3 - fractionDigits) : 1;
    const read = (value: string, localOffset: number): Date | null => {
      const match = regex.exec(value);
      if (match === null) return null;
      const digits = fraction === 0 ? undefined : match[fraction];
      const millis = digits === undefined ? 0 : fractionDigits > 3 ? +digits.slice(0, 3) : +digits * fractionScale;
      const zone = offset === 0 ? undefined : match[offset];
      const zoneOffset = zone === undefined ? localOffset : offsetMinutesOf(zone);
      if (zoneOffset === null) return null;
      return instantOf(
        +match[year]!,
        +match[month]!,
        +match[day]!,
        numberAt(match, hour),
        numberAt(match, minute),
        numberAt(match, second),
        millis,
        zoneOffset,
      );
    };
    return new DatePattern(text, read, writerOf(parts), /[^\0-\x7f]/.test(text));
  }

  /**
   * Reads one source value; null for an absent one (null, undefined, ''). Throws MappingError `bad_date`
   * naming `field`, the source path the value was read from. `offsetMinutes` is the zone of a time written without an
   * offset.
   */
  parse(value: unknown, field: string, offsetMinutes = vietnamOffsetMinutes): Date | null {
    if (value === null || value === undefined || value === '') return null;
    if (typeof value !== 'string') {
      throw new MappingError(
        'bad_date',
        `${field}: expected a date as text in format ${this.text}, got ${quoteSourceValue(value, field)}`,
      );
    }
    const text = this.normalises ? value.normalize('NFC').trim() : value.trim();
    const date = this.read(text, offsetMinutes);
    if (!date) {
      // `field` is the source path the value was read from: the value is quoted only if that path is not personal.
      throw new MappingError(
        'bad_date',
        `${field}: ${quoteSourceValue(text, field)} is not a date in format ${this.text} (${zoneName(offsetMinutes)} when no offset)`,
      );
    }
    return date;
  }

  /** Writes an instant as local time of the given offset (default Vietnam), truncated to the pattern's unit. */
  format(date: Date, offsetMinutes = vietnamOffsetMinutes): string {
    const local = new Date(date.getTime() + offsetMinutes * 60_000);
    let text = '';
    for (const part of this.writer) text += typeof part === 'string' ? part : writeToken(part, local, offsetMinutes);
    return text;
  }

  /** The earliest instant at or after `date` that the pattern writes exactly (local time of the offset). */
  ceil(date: Date, offsetMinutes = vietnamOffsetMinutes): Date {
    const local = date.getTime() + offsetMinutes * 60_000;
    const below = ((local % this.precisionMs) + this.precisionMs) % this.precisionMs;
    return below === 0 ? date : new Date(date.getTime() - below + this.precisionMs);
  }
}
