// The lag from a source's update to its central write (a history state's recorded_at − source_updated_at), kept as a
// histogram with fixed bucket bounds so that days and connectors merge by adding counts (connector_daily_lag).

/**
 * The buckets' upper bounds, in seconds: bucket 0 holds lags under 1 s, bucket i lags from `lagBucketBounds[i - 1]`
 * up to (not including) `lagBucketBounds[i]`, and the last bucket, one past the bounds, lags of 7 days or more. A
 * negative lag (a source clock ahead of ours) counts as 0. Changing the bounds changes the meaning of stored rows: a
 * new set needs a migration that recomputes them.
 */
export const lagBucketBounds: readonly number[] = [
  1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400, 604800,
];

/** A merged histogram: counts per bucket (one more than the bounds), and the largest lag counted. */
export interface LagHistogram {
  buckets: readonly number[];
  count: number;
  maxSeconds: number;
}

/**
 * The q-quantile (0 < q ≤ 1) of a histogram, in seconds: the upper bound of the first bucket whose cumulative count
 * reaches the nearest rank ⌈q × count⌉, but never more than the largest lag counted (which also answers for the
 * open last bucket). So "p95 = 30" reads "95% of the writes came less than 30 s after the source's update". Null for
 * an empty histogram.
 */
export function lagQuantile(histogram: LagHistogram, q: number): number | null {
  if (histogram.count === 0) return null;
  const rank = Math.max(1, Math.ceil(q * histogram.count));
  let cumulative = 0;
  for (let bucket = 0; bucket < histogram.buckets.length; bucket++) {
    cumulative += histogram.buckets[bucket] ?? 0;
    if (cumulative >= rank) return Math.min(lagBucketBounds[bucket] ?? Infinity, histogram.maxSeconds);
  }
  return histogram.maxSeconds;
}

/** Adds histograms bucket by bucket. */
export function mergeLagHistograms(histograms: readonly LagHistogram[]): LagHistogram {
  const buckets = new Array<number>(lagBucketBounds.length + 1).fill(0);
  let count = 0;
  let maxSeconds = 0;
  for (const histogram of histograms) {
    histogram.buckets.forEach((n, bucket) => (buckets[bucket] = (buckets[bucket] ?? 0) + n));
    count += histogram.count;
    maxSeconds = Math.max(maxSeconds, histogram.maxSeconds);
  }
  return { buckets, count, maxSeconds };
}
