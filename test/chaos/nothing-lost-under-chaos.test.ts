import { expect, it } from 'vitest';
import { printReport, runChaos } from './chaos-run.js';

// The short variant of `npm run test:chaos`, in the default suite: every fault once, on a small data set.
it('loses nothing, never goes backwards and keeps healthy provinces moving under chaos (short run)', async () => {
  const report = await runChaos({ dossiersPerProvince: 1500, durationMs: 24_000, killEveryMs: 4000, outageMs: 10_000, changesPerSecond: 100 });
  const passed = report.comparison.missing + report.comparison.different + report.comparison.extra === 0 && report.duplicateHistory === 0 && report.unexpectedExits.length === 0 && report.unhandled.length === 0;
  printReport(report, passed);
  expect(report.comparison).toMatchObject({ missing: 0, different: 0, extra: 0 });
  expect(report.duplicateHistory).toBe(0);
  expect(report.deadLetters.kept).toBe(report.deadLetters.expected);
  expect(report.deadLetters.wrongReason).toBe(0);
  expect(report.unexpectedExits).toEqual([]);
  expect(report.unhandled).toEqual([]);
  expect(report.healthyMaxLagSeconds).toBeLessThan(30);
}, 300_000);
