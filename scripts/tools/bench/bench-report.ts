// What `fleet bench` prints on stdout: the phases' table, the issue's targets beside the figures, and the two
// ratio lines it ends with (the lines a script or the lead greps for).

import { cpus, loadavg } from 'node:os';
import type { CopyFigures } from './copy-phase.js';
import type { EndToEndFigures } from './end-to-end-phase.js';
import type { NaiveFigures } from './naive-phase.js';

/** Every phase's figures, for the report. */
export interface BenchFigures {
  records: number;
  /** Whether the workers ran from the build (`--compiled`) or through tsx. */
  compiled: boolean;
  copy: CopyFigures;
  naive: NaiveFigures;
  /** 34 provinces, one writer process: the headline end-to-end figure. */
  provinces34: EndToEndFigures;
  /** 34 provinces, two writer processes. */
  provinces34TwoWriters: EndToEndFigures;
  /** N dossiers of one province: one connector, what a backfill gets. */
  oneProvince: EndToEndFigures;
}

/** The targets (#14 item 3). */
export const targets = {
  copyRatio34: 0.35,
  copyRatioOne: 0.25,
  naiveRatio: 15,
  rssBytes: 300 * 1024 * 1024,
} as const;

const integer = (value: number) => Math.round(value).toLocaleString('en-US');
const megabytes = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(0)} MB` : 'n/a');
const met = (ok: boolean) => (ok ? 'met' : 'not met');

/** A markdown table, columns padded so that it reads in a terminal too. */
export function markdownTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: readonly string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(rows[0]!), line(widths.map((width) => '-'.repeat(width))), ...rows.slice(1).map(line)].join('\n');
}

function peakOf(figures: EndToEndFigures, role: 'poller' | 'writer'): number {
  const values = [...figures.rssBytes].filter(([name]) => name.startsWith(role)).map(([, bytes]) => bytes);
  return values.length > 0 ? Math.max(...values) : NaN;
}

/** The report: a heading, the phases' table, the targets' table, and the closing ratio lines. */
export function benchReport(figures: BenchFigures): string {
  const { copy, naive, provinces34, provinces34TwoWriters, oneProvince } = figures;
  const e2eRows: [string, EndToEndFigures][] = [
    ['end to end, 34 provinces, 1 writer process', provinces34],
    ['end to end, 34 provinces, 2 writer processes', provinces34TwoWriters],
    ['end to end, 1 province (one connector), 1 writer process', oneProvince],
  ];
  const phases = markdownTable([
    [
      'phase',
      'records',
      'seconds',
      'records/s',
      '× COPY',
      '× naive',
      'poller peak RSS',
      'writer peak RSS',
      'Redis peak Δ',
      'ingest jobs waiting, peak',
    ],
    [
      'COPY into a twin of dossiers (raw limit)',
      integer(copy.rows),
      copy.seconds.toFixed(1),
      integer(copy.rowsPerSecond),
      '1.00',
      (copy.rowsPerSecond / naive.recordsPerSecond).toFixed(2),
      '',
      '',
      '',
      '',
    ],
    [
      'naive: one BullMQ job + one upsert per record',
      integer(naive.records),
      naive.seconds.toFixed(1),
      integer(naive.recordsPerSecond),
      (naive.recordsPerSecond / copy.rowsPerSecond).toFixed(2),
      '1.00',
      '',
      '',
      '',
      '',
    ],
    ...e2eRows.map(([name, run]) => [
      name,
      integer(run.records),
      run.seconds.toFixed(1),
      integer(run.recordsPerSecond),
      (run.recordsPerSecond / copy.rowsPerSecond).toFixed(2),
      (run.recordsPerSecond / naive.recordsPerSecond).toFixed(2),
      megabytes(peakOf(run, 'poller')),
      megabytes(peakOf(run, 'writer')),
      megabytes(run.redisPeakDeltaBytes),
      integer(run.peakJobsWaiting),
    ]),
  ]);

  const copyRatio = provinces34.recordsPerSecond / copy.rowsPerSecond;
  const copyRatioOne = oneProvince.recordsPerSecond / copy.rowsPerSecond;
  const naiveRatio = provinces34.recordsPerSecond / naive.recordsPerSecond;
  const peakRss = Math.max(...e2eRows.flatMap(([, run]) => [...run.rssBytes.values()]));
  const redisPeak = Math.max(...e2eRows.map(([, run]) => run.redisPeakDeltaBytes));
  const targetTable = markdownTable([
    ['target (#14)', 'figure', 'status'],
    ['end to end, 34 provinces ≥ 0.35 × COPY', `${copyRatio.toFixed(2)} ×`, met(copyRatio >= targets.copyRatio34)],
    ['end to end, 1 province ≥ 0.25 × COPY', `${copyRatioOne.toFixed(2)} ×`, met(copyRatioOne >= targets.copyRatioOne)],
    ['end to end, 34 provinces ≥ 15 × naive', `${naiveRatio.toFixed(2)} ×`, met(naiveRatio >= targets.naiveRatio)],
    ['worker peak RSS < 300 MB, every worker process', megabytes(peakRss), met(peakRss < targets.rssBytes)],
    [
      'Redis bounded by batch size × queue depth, not by N',
      `peak Δ ${megabytes(redisPeak)} (${integer(redisPeak / figures.records)} B per record of N)`,
      'one run cannot tell: compare the Δ at two --records',
    ],
  ]);

  return [
    `fleet bench: N = ${integer(figures.records)} records (naive on a sample of ${integer(naive.records)}), ` +
      `${new Date().toISOString()}, ${cpus().length} CPUs, load average ${loadavg()
        .map((load) => load.toFixed(1))
        .join(' ')}, workers ${figures.compiled ? 'from the build (--compiled)' : 'through tsx'}`,
    '',
    phases,
    '',
    targetTable,
    '',
    `e2e one-province/copy ratio: ${copyRatioOne.toFixed(2)}`,
    `e2e two-writers/copy ratio: ${(provinces34TwoWriters.recordsPerSecond / copy.rowsPerSecond).toFixed(2)}`,
    `e2e/copy ratio: ${copyRatio.toFixed(2)}`,
    `e2e/naive ratio: ${naiveRatio.toFixed(2)}`,
  ].join('\n');
}
