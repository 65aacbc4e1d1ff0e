/** Time arithmetic on epoch milliseconds, in Vietnam's calendar (fixed UTC+7, no daylight saving). */
export const second = 1000;
export const minute = 60 * second;
export const hour = 60 * minute;
export const day = 24 * hour;

const vietnamOffset = 7 * hour;

/** Midnight, Vietnam time, of the calendar day the instant falls on (on-time rules compare these days). */
export function vietnamDayStart(at: number): number {
  return Math.floor((at + vietnamOffset) / day) * day - vietnamOffset;
}

/** The instant truncated down to a whole second or minute, as a vendor clock of that precision shows it. */
export function truncateTo(at: number, precision: 'second' | 'minute'): number {
  const unit = precision === 'minute' ? minute : second;
  return Math.floor(at / unit) * unit;
}
