import { DatePattern, vietnamOffsetMinutes } from './date-pattern.js';

export { vietnamOffsetMinutes };

/**
 * The named date formats province systems send (shared/domain.md, "Times"): shorthands a definition and the
 * code plugins use by name. Four are date patterns that mean what they say; `iso` reads ISO 8601 as vendors
 * write it (T or a space, seconds and fraction optional, an offset or none). A time without an offset is
 * Vietnam local time: Asia/Ho_Chi_Minh, a fixed UTC+7 with no daylight saving, so no time-zone database is
 * needed. A definition may also write its own pattern (date-pattern.ts).
 */
export const dateFormats = [
  'yyyyMMddHHmmss',
  'dd/MM/yyyy HH:mm:ss',
  'dd/MM/yyyy',
  'yyyy-MM-ddTHH:mm:ss',
  'iso',
] as const;
export type DateFormat = (typeof dateFormats)[number];

/** Each named format, compiled once. */
const namedPatterns = Object.fromEntries(dateFormats.map((format) => [format, DatePattern.compile(format)])) as Record<
  DateFormat,
  DatePattern
>;

/**
 * Parses one source date in the given format; null for an absent value. Throws MappingError `bad_date`, naming
 * `field` — the source path the value was read from, so its message quotes the value only if the path does not
 * look personal. `offsetMinutes` is the zone of times written without an offset (default Vietnam, UTC+7).
 */
export function parseSourceDate(
  value: unknown,
  field: string,
  format: DateFormat,
  offsetMinutes = vietnamOffsetMinutes,
): Date | null {
  return namedPatterns[format].parse(value, field, offsetMinutes);
}

/** Formats an instant as Vietnam local time in `yyyyMMddHHmmss`, the national portal's own format. */
export function formatVietnamTime(date: Date): string {
  return namedPatterns.yyyyMMddHHmmss.format(date);
}

/** Formats an instant the way a source expects it in a request: local time of the given offset (default Vietnam). */
export function formatSourceDate(date: Date, format: DateFormat, offsetMinutes = vietnamOffsetMinutes): string {
  return namedPatterns[format].format(date, offsetMinutes);
}
