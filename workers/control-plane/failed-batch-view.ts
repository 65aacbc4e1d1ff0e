import { listOf } from '../../db/queries/insert-failed-batch.js';
import type { FailedBatchRow, FailedBatchSummary } from '../../db/queries/failed-batches.js';
import { IngestMessageError, readIngestJob } from '../queue/ingest-message.js';
import { isoTime } from './view-time.js';

// A failed batch as `fleet failed-batch … -o json` prints it and the admin API returns it: one view.

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
  /**
   * Why this release cannot read the batch (another version, or a shape that does not match its schema: paths and
   * expectations, never a value); null when it can. The fields above then hold what could be read of it.
   */
  unreadable: string | null;
}

/** A failed batch with what it holds, and with `batch` the whole batch as kept. */
export interface FailedBatchView extends FailedBatchSummaryView, FailedBatchContents {
  batch?: unknown;
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

/** A field of an object; undefined for anything else (null, a list, text). */
function field(value: unknown, name: string): unknown {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)[name]
    : undefined;
}

/**
 * What a kept batch holds, for people and scripts alike. A batch is kept because the writer refused it, so its
 * shape may be anything (another release's, or one that does not match the schema): each field is read with care,
 * only text is taken for a code or a reason, and what does not match is said in `unreadable`.
 */
export function failedBatchContents(batch: unknown): FailedBatchContents {
  const reasons = new Map<string, number>();
  for (const letter of listOf(field(batch, 'deadLetters'))) {
    const reason = field(letter, 'reason');
    if (typeof reason === 'string') reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  const cursor = field(batch, 'cursor');
  return {
    dossierCodes: listOf(field(batch, 'records')).flatMap((record) => {
      const code = field(record, 'dossierCode');
      return typeof code === 'string' ? [code] : [];
    }),
    deadLettersByReason: [...reasons].map(([reason, count]) => ({ reason, count })),
    cursor:
      cursor !== undefined && cursor !== null
        ? { before: field(cursor, 'before') ?? null, after: field(cursor, 'after') ?? null }
        : null,
    unreadable: unreadableBecause(batch),
  };
}

/** Why the writer of this release cannot read a kept batch, or null: it can (it failed for another reason). */
function unreadableBecause(batch: unknown): string | null {
  try {
    readIngestJob('batch', batch);
    return null;
  } catch (failure) {
    if (failure instanceof IngestMessageError) return failure.message;
    throw failure;
  }
}

/** The view of one failed batch: the summary, what it holds, and with `withBatch` the whole batch. */
export function failedBatchView(row: FailedBatchRow, options: { withBatch?: boolean } = {}): FailedBatchView {
  const batch = JSON.parse(row.batch) as unknown;
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
