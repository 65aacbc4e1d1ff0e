import { formatVietnamTime } from '../../../../connectors/sdk/dates.js';

// The time formats the dialects serve, all Vietnam local time (UTC+7, no daylight saving), each built from
// one `yyyyMMddHHmmss` rendering so no two dialects can disagree about an instant.

/** `20261127080000`: the national portal's format, also dvc's. */
export function compactVietnamTime(at: number): string {
  return formatVietnamTime(new Date(at));
}

/** `2026-11-27T08:00:00`: ISO 8601 without an offset, which by convention means Vietnam time (igate's updatedAt). */
export function isoLocalVietnamTime(at: number): string {
  const t = compactVietnamTime(at);
  return `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(8, 10)}:${t.slice(10, 12)}:${t.slice(12, 14)}`;
}

/** `2026-11-27T08:00:00+07:00`: ISO 8601 with the offset spelled out (igate's timeline). */
export function isoOffsetVietnamTime(at: number): string {
  return `${isoLocalVietnamTime(at)}+07:00`;
}

/** `27/11/2026 08:00:00`: day first, as Vietnamese forms write it (lgsp-soap). */
export function slashedVietnamTime(at: number): string {
  const t = compactVietnamTime(at);
  return `${t.slice(6, 8)}/${t.slice(4, 6)}/${t.slice(0, 4)} ${t.slice(8, 10)}:${t.slice(10, 12)}:${t.slice(12, 14)}`;
}
