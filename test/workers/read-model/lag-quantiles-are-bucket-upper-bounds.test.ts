import { describe, expect, it } from 'vitest';
import { lagBucketBounds, lagQuantile, mergeLagHistograms } from '../../../workers/read-model/lag-histogram.js';

// The lag quantiles of the statistics: the upper bound of the bucket where the cumulative count reaches the nearest
// rank, never more than the largest lag counted.

const histogram = (counts: Record<number, number>, maxSeconds: number) => {
  const buckets = new Array<number>(lagBucketBounds.length + 1).fill(0);
  for (const [bucket, n] of Object.entries(counts)) buckets[Number(bucket)] = n;
  return { buckets, count: Object.values(counts).reduce((sum, n) => sum + n, 0), maxSeconds };
};

describe('lag quantiles', () => {
  it('take the upper bound of the bucket reaching the nearest rank', () => {
    // 10 lags: 5 under 1 s, 4 from 10 to 30 s, 1 of 100 s.
    const lags = histogram({ 0: 5, 4: 4, 6: 1 }, 100);
    expect(lagQuantile(lags, 0.5)).toBe(1);
    expect(lagQuantile(lags, 0.51)).toBe(30);
    expect(lagQuantile(lags, 0.9)).toBe(30);
    expect(lagQuantile(lags, 0.95)).toBe(100);
  });

  it('cap a quantile at the largest lag, which also answers for the open last bucket', () => {
    expect(lagQuantile(histogram({ 4: 1 }, 12.5), 0.5)).toBe(12.5);
    expect(lagQuantile(histogram({ [lagBucketBounds.length]: 3 }, 900_000), 0.95)).toBe(900_000);
  });

  it('are null without any lag, and merge by adding counts', () => {
    expect(lagQuantile(histogram({}, 0), 0.5)).toBeNull();
    const merged = mergeLagHistograms([histogram({ 0: 1 }, 0.5), histogram({ 5: 3 }, 50)]);
    expect(merged).toMatchObject({ count: 4, maxSeconds: 50 });
    expect(merged.buckets[0]).toBe(1);
    expect(merged.buckets[5]).toBe(3);
    expect(lagQuantile(merged, 0.5)).toBe(50);
  });
});
