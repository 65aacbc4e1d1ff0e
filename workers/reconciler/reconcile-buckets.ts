import type { TimeWindow } from '../../connectors/sdk/connector.js';

// A reconcile's buckets: one Vietnam calendar day (UTC+7, no daylight saving) of source update time each, the
// first and last clipped to the run's range.

const day = 86_400_000;
const vietnamOffset = 7 * 3_600_000;

/** The start of the Vietnam day that holds `time`. */
export function vietnamDayStart(time: number): number {
  return Math.floor((time + vietnamOffset) / day) * day - vietnamOffset;
}

/** How many buckets cover [from, to). */
export function bucketCount(range: TimeWindow): number {
  const first = vietnamDayStart(range.from.getTime());
  return Math.max(1, Math.ceil((range.to.getTime() - first) / day));
}

/** Bucket number `index` (from 0) of the range. */
export function bucketAt(range: TimeWindow, index: number): TimeWindow {
  const start = vietnamDayStart(range.from.getTime()) + index * day;
  return {
    from: new Date(Math.max(start, range.from.getTime())),
    to: new Date(Math.min(start + day, range.to.getTime())),
  };
}
