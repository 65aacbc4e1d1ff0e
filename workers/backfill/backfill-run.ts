import type { Connector, ReadState, SourcePage, TimeWindow } from '../../connectors/sdk/connector.js';
import { mapItems, type MappingContext } from '../../connectors/sdk/normalise.js';
import { currentProvinceCode } from '../../config/provinces.js';
import { SourceError } from '../../connectors/sdk/source-error.js';
import type { BackfillProgress } from '../../db/queries/backfill-progress.js';
import type { BackfillStatus } from '../../db/schema.js';
import type { CommittingQueue } from '../poller/poll-run.js';
import type { FleetMetrics } from '../metrics.js';
import type { IngestBatch } from '../queue/queues.js';
import type { WriteOutcome } from '../writer/write-batch.js';

/** A connector whose source can be read by time window: what a backfill needs. */
export type WindowReadableConnector = Connector & Required<Pick<Connector, 'readWindow'>>;

/** Whether the connector's source can be read by time window. */
export function canReadWindow(connector: Connector): connector is WindowReadableConnector {
  return typeof connector.readWindow === 'function';
}

/** The range a backfill covers and its window step. */
export interface BackfillRange {
  from: Date;
  to: Date;
  windowHours: number;
}

/** How many windows of `windowHours` cover [from, to): the last one may be shorter. */
export function windowCount(range: BackfillRange): number {
  return Math.ceil((range.to.getTime() - range.from.getTime()) / (range.windowHours * 3_600_000));
}

/** Window number `index` (from 0) of the range: `windowHours` long, the last one ending at the range's end. */
export function windowAt(range: BackfillRange, index: number): TimeWindow {
  const step = range.windowHours * 3_600_000;
  const from = range.from.getTime() + index * step;
  return { from: new Date(from), to: new Date(Math.min(from + step, range.to.getTime())) };
}

/** What this process committed of a run so far, for the progress line. */
export interface BackfillCounts {
  windowsDone: number;
  windowsTotal: number;
  /** Records and dead letters committed by this process (a page re-read after a kill counts nothing). */
  records: number;
  deadLetters: number;
}

/** How a backfill run ended in this process: finished, stopped by a signal (resumable), or no longer running. */
export type BackfillEnd = 'done' | 'interrupted' | 'stopped';

/** What a backfill run needs. */
export interface BackfillRunOptions {
  runId: string;
  connector: WindowReadableConnector;
  connectorId: string;
  sourceProvinceCode: string;
  sourceCodeSet: MappingContext['sourceCodeSet'];
  range: BackfillRange;
  /** The progress committed in Postgres when this process starts (or takes the run over). */
  committed: BackfillProgress;
  sink: CommittingQueue;
  /** Reads one page of a window (the caller passes the breaker, retries and the connector's rate limit). */
  readPage: (window: TimeWindow, state: ReadState | null, signal?: AbortSignal) => Promise<SourcePage>;
  /**
   * The run's status and committed progress, read again when a batch did not move it (a batch of a killed process
   * committed meanwhile, or an operator cancelled the run), and at the end.
   */
  reload: () => Promise<{ status: BackfillStatus; progress: BackfillProgress }>;
  /** How long to wait for the writer to commit one batch. Default 5 minutes. */
  commitTimeoutMs?: number;
  /** Stops the run after the page in hand (Ctrl-C, SIGTERM). */
  signal?: AbortSignal;
  /** Called after each committed batch. */
  onProgress?: (counts: Readonly<BackfillCounts>) => void;
  /** Where each page read is observed (stage backfill), in a process that serves /metrics. */
  metrics?: Pick<FleetMetrics, 'operationDuration'>;
}

/**
 * Reads a range window by window, page by page, from the committed progress, and hands each page to the writer as
 * a batch carrying the progress move it completes (from where the page was read to just after it); the writer
 * applies it in the same transaction as the records. Page k+1 is read while page k is written and handed over once
 * k is committed, as a poll run does. A batch that did not move the progress means the stored progress is not
 * where this process thought: it is read again and the run carries on from there, so nothing is lost or counted
 * twice, whoever committed what.
 */
export async function runBackfill(options: BackfillRunOptions): Promise<BackfillEnd> {
  const { range, signal, sink } = options;
  const timeout = options.commitTimeoutMs ?? 5 * 60_000;
  const total = windowCount(range);
  const counts: BackfillCounts = {
    windowsDone: options.committed.windowsDone,
    windowsTotal: total,
    records: 0,
    deadLetters: 0,
  };
  const provinceCode = currentProvinceCode(options.sourceProvinceCode, options.sourceCodeSet);
  let progress: BackfillProgress = options.committed;
  let inFlight: { batch: IngestBatch; commit: Promise<WriteOutcome> } | null = null;

  /** Waits for the batch in flight; false when it did not move the progress (it is then read again). */
  const settle = async (): Promise<boolean> => {
    if (!inFlight) return true;
    const { batch, commit } = inFlight;
    inFlight = null;
    const outcome = await commit;
    if (!outcome.backfillMoved) return false;
    counts.windowsDone = batch.backfill!.after.windowsDone;
    counts.records += batch.records.length - outcome.unstorable;
    counts.deadLetters += batch.deadLetters.length + outcome.unstorable;
    options.onProgress?.(counts);
    return true;
  };

  /** Carries on from the stored progress; false when the run is no longer running (finished or cancelled). */
  const resync = async (): Promise<boolean> => {
    const stored = await options.reload();
    if (stored.status !== 'running') return false;
    progress = stored.progress;
    counts.windowsDone = progress.windowsDone;
    return true;
  };

  /**
   * One page of a window, observed as one backfill operation (its rate, errors and duration); a read cut short by
   * the signal is neither.
   */
  const readObserved = async (window: TimeWindow, state: ReadState | null): Promise<SourcePage> => {
    const stopTimer = options.metrics?.operationDuration.startTimer({ stage: 'backfill' });
    try {
      const page = await options.readPage(window, state, signal);
      stopTimer?.({ outcome: 'ok' });
      return page;
    } catch (error) {
      if (!signal?.aborted) stopTimer?.({ outcome: 'error' });
      throw error;
    }
  };

  try {
    for (;;) {
      if (signal?.aborted) break;
      if (progress.windowsDone >= total) {
        // The last batch's commit finishes the run; one that did not move the progress is read again.
        if ((await settle()) || !(await resync())) break;
        continue;
      }
      const window = windowAt(range, progress.windowsDone);
      const page = await readObserved(window, progress.position);
      const observedAt = new Date();
      if (page.next !== null && JSON.stringify(page.next) === JSON.stringify(progress.position)) {
        throw new SourceError(
          `connector ${options.connectorId}: the source has more pages in window ${window.from.toISOString()} to ${window.to.toISOString()} but the next request would repeat this one; check the pagination settings`,
          false,
        );
      }
      const mapped = mapItems(options.connector, page.items, {
        connectorId: options.connectorId,
        sourceProvinceCode: options.sourceProvinceCode,
        sourceCodeSet: options.sourceCodeSet,
        observedAt,
      });
      if (!(await settle())) {
        if (!(await resync())) break;
        continue;
      }
      const after: BackfillProgress =
        page.next === null
          ? { windowsDone: progress.windowsDone + 1, position: null }
          : { windowsDone: progress.windowsDone, position: page.next };
      const batch: IngestBatch = {
        origin: 'poll',
        connectorId: options.connectorId,
        provinceCode,
        records: mapped.records,
        deadLetters: mapped.deadLetters,
        backfill: { runId: options.runId, before: progress, after },
      };
      const commit = sink.addAndWait(batch, timeout);
      // Surface a failure at the next await, not as an unhandled rejection meanwhile.
      commit.catch(() => {});
      inFlight = { batch, commit };
      progress = after;
    }
  } catch (error) {
    if (!signal?.aborted) throw error;
  } finally {
    // Whatever happened to the read, the batch already handed over is still waited for.
    if (inFlight) await settle().catch(() => false);
  }
  const { status } = await options.reload();
  if (status === 'done') return 'done';
  return status === 'running' ? 'interrupted' : 'stopped';
}
