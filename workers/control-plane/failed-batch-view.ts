import type { FailedBatchRow, FailedBatchSummary } from '../../db/queries/failed-batches.js';
import type { IngestBatch } from '../queue/queues.js';
import { isoTime } from './view-time.js';

// A failed batch as `fleet failed-batch … -o json` prints it (and an admin route would return it): one view.

/** A batch the writer gave up on: where it came from, how it failed, and its state (never its content). */
export interface FailedBatchSummaryView {
  id: string;
  provinceCode: string;
  connectorId: string;
  origin: 'poll' | 'push';
  records: number;
  deadLetters: number;
  error: string;
  /** Attempts of the last job that failed. */
  attempts: number;
  /** Jobs of this same batch that failed. */
  failures: number;
  state: 'failed' | 'retried' | 'discarded';
  stateChangedAt: string | null;
  firstFailedAt: string;
  failedAt: string;
}

/** What a failed batch holds, without its records' content: dossier codes, dead letters by reason, cursor move. */
export interface FailedBatchContents {
  dossierCodes: string[];
  deadLettersByReason: { reason: string; count: number }[];
  /** The cursor move a poll batch carries; null for a pushed batch. */
  cursor: { before: unknown; after: unknown } | null;
}

/** A failed batch with what it holds, and with `batch` the whole batch as queued. */
export interface FailedBatchView extends FailedBatchSummaryView, FailedBatchContents {
  batch?: IngestBatch;
}

/** The view of a failed batch row as listed. */
export function failedBatchSummaryView(row: FailedBatchSummary): FailedBatchSummaryView {
  return {
    id: String(row.id),
    provinceCode: row.province_code,
    connectorId: row.connector_id,
    origin: row.origin,
    records: row.records,
    deadLetters: row.dead_letters,
    error: row.error,
    attempts: row.attempts,
    failures: row.failures,
    state: row.state,
    stateChangedAt: isoTime(row.state_changed_at),
    firstFailedAt: isoTime(row.first_failed_at)!,
    failedAt: isoTime(row.failed_at)!,
  };
}

/** What a batch holds, for people and scripts alike. */
export function failedBatchContents(batch: IngestBatch): FailedBatchContents {
  const reasons = new Map<string, number>();
  for (const letter of batch.deadLetters ?? []) reasons.set(letter.reason, (reasons.get(letter.reason) ?? 0) + 1);
  return {
    dossierCodes: (batch.records ?? []).map((record) => record.dossierCode),
    deadLettersByReason: [...reasons].map(([reason, count]) => ({ reason, count })),
    cursor: batch.cursor ? { before: batch.cursor.before, after: batch.cursor.after } : null,
  };
}

/** The view of one failed batch: the summary, what it holds, and with `withBatch` the whole batch. */
export function failedBatchView(row: FailedBatchRow, options: { withBatch?: boolean } = {}): FailedBatchView {
  const batch = JSON.parse(row.batch) as IngestBatch;
  return { ...failedBatchSummaryView(row), ...failedBatchContents(batch), ...(options.withBatch ? { batch } : {}) };
}

/** Failed batches as listed: the counts by province of every match, then the batches of this page. */
export interface FailedBatchListView {
  counts: { provinceCode: string; count: number }[];
  failedBatches: FailedBatchSummaryView[];
}

/** The list view: counts by province, and the page of batches shown. */
export function failedBatchListView(
  counts: readonly { provinceCode: string; count: number }[],
  rows: readonly FailedBatchSummary[],
): FailedBatchListView {
  return {
    counts: counts.map(({ provinceCode, count }) => ({ provinceCode, count })),
    failedBatches: rows.map(failedBatchSummaryView),
  };
}
