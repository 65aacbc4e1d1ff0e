import { MappingError } from './mapping-error.js';
import { quoteSourceValue } from './personal-data.js';

/**
 * The date formats province systems send (shared/domain.md, "Times"). A time without an offset is Vietnam
 * local time: Asia/Ho_Chi_Minh, a fixed UTC+7 with no daylight saving, so no time-zone database is needed.
 */
export const dateFormats = ['yyyyMMddHHmmss', 'dd/MM/yyyy HH:mm:ss', 'dd/MM/yyyy', 'yyyy-MM-ddTHH:mm:ss', 'iso'] as const;
export type DateFormat = (typeof dateFormats)[number];

/** Vietnam's offset from UTC, in minutes: times without an offset are in it unless a definition says otherwise. */
export const vietnamOffsetMinutes = 7 * 60;

const patterns: Record<Exclude<DateFormat, 'iso'>, { regex: RegExp; order: readonly number[] }> = {
  // Capture groups are re-ordered into year, month, day, hour, minute, second.
  yyyyMMddHHmmss: { regex: /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/, order: [1, 2, 3, 4, 5, 6] },
  'dd/MM/yyyy HH:mm:ss': { regex: /^(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2}):(\d{2})$/, order: [3, 2, 1, 4, 5, 6] },
  'dd/MM/yyyy': { regex: /^(\d{2})\/(\d{2})\/(\d{4})$/, order: [3, 2, 1] },
  'yyyy-MM-ddTHH:mm:ss': { regex: /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/, order: [1, 2, 3, 4, 5, 6] },
};

const isoPattern =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Builds a UTC instant from Vietnam-local fields, or null when a field is out of range (31/02, 25:00). */
function fromLocalFields(fields: number[], offsetMinutes: number, millis = 0): Date | null {
  const [year, month, day, hour = 0, minute = 0, second = 0] = fields as [number, number, number, number?, number?, number?];
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return null;
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  const check = new Date(utc);
  // Date.UTC rolls 31/02 over into March; a round trip exposes it.
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return null;
  return new Date(utc - offsetMinutes * 60_000);
}

function parseIso(value: string, localOffset: number): Date | null {
  const match = isoPattern.exec(value);
  if (!match) return null;
  const fields = match.slice(1, 7).map((part) => (part === undefined ? 0 : Number(part)));
  const millis = match[7] ? Number(match[7].slice(0, 3).padEnd(3, '0')) : 0;
  const zone = match[8];
  let offset = localOffset;
  if (zone === 'Z') offset = 0;
  else if (zone) {
    const digits = zone.replace(':', '');
    const sign = digits.startsWith('-') ? -1 : 1;
    const [hours, minutes] = [Number(digits.slice(1, 3)), Number(digits.slice(3, 5))];
    // Real offsets run from -12:00 to +14:00.
    if (hours > 14 || minutes > 59) return null;
    offset = sign * (hours * 60 + minutes);
  }
  return fromLocalFields(fields, offset, millis);
}

/**
 * Parses one source date in the given format; null for an absent value. Throws MappingError `bad_date`, naming
 * `field` — the source path the value was read from, so its message quotes the value only if the path does not
 * look personal. `offsetMinutes` is the zone of times written without an offset (default Vietnam, UTC+7).
 */
export function parseSourceDate(value: unknown, field: string, format: DateFormat, offsetMinutes = vietnamOffsetMinutes): Date | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value !== 'string') {
    throw new MappingError('bad_date', `${field}: expected a date as text in format ${format}, got ${quoteSourceValue(value, field)}`);
  }
  const text = value.trim();
  let date: Date | null;
  if (format === 'iso') {
    date = parseIso(text, offsetMinutes);
  } else {
    const { regex, order } = patterns[format];
    const match = regex.exec(text);
    date = match ? fromLocalFields(order.map((group) => Number(match[group])), offsetMinutes) : null;
  }
  if (!date) {
    throw new MappingError('bad_date', `${field}: ${quoteSourceValue(text, field)} is not a date in format ${format} (Vietnam time when no offset)`);
  }
  return date;
}

/** Formats an instant as Vietnam local time in `yyyyMMddHHmmss`, the national portal's own format. */
export function formatVietnamTime(date: Date): string {
  return formatSourceDate(date, 'yyyyMMddHHmmss');
}

/** Formats an instant the way a source expects it in a request: local time of the given offset (default Vietnam). */
export function formatSourceDate(date: Date, format: DateFormat, offsetMinutes = vietnamOffsetMinutes): string {
  const local = new Date(date.getTime() + offsetMinutes * 60_000);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const [year, month, day] = [pad(local.getUTCFullYear(), 4), pad(local.getUTCMonth() + 1), pad(local.getUTCDate())];
  const [hour, minute, second] = [pad(local.getUTCHours()), pad(local.getUTCMinutes()), pad(local.getUTCSeconds())];
  switch (format) {
    case 'yyyyMMddHHmmss':
      return `${year}${month}${day}${hour}${minute}${second}`;
    case 'dd/MM/yyyy HH:mm:ss':
      return `${day}/${month}/${year} ${hour}:${minute}:${second}`;
    case 'dd/MM/yyyy':
      return `${day}/${month}/${year}`;
    case 'yyyy-MM-ddTHH:mm:ss':
      return `${year}-${month}-${day}T${hour}:${minute}:${second}`;
    case 'iso': {
      const sign = offsetMinutes < 0 ? '-' : '+';
      const abs = Math.abs(offsetMinutes);
      return `${year}-${month}-${day}T${hour}:${minute}:${second}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
    }
  }
}
