/** A stored time as the views show it: ISO 8601 in UTC; null for none. */
export function isoTime(time: Date | string | null | undefined): string | null {
  return time === null || time === undefined ? null : new Date(time).toISOString();
}
