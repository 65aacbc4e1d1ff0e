import { createHash } from 'node:crypto';
import type { Cursor, ReadableConnector, ReadState, SourcePage } from '../../connectors/sdk/connector.js';
import { mapItems, type MappingContext } from '../../connectors/sdk/normalise.js';
import { currentProvinceCode } from '../../config/provinces.js';
import { SourceError } from '../../connectors/sdk/source-error.js';
import type { IngestBatch } from '../queue/queues.js';
import type { CursorMove } from '../../db/queries/sync-cursors.js';
import type { WriteOutcome } from '../writer/write-batch.js';

/** Where a poll run hands its batches: resolves once the writer committed the batch. */
export interface CommittingQueue {
  addAndWait(batch: IngestBatch, timeoutMs: number): Promise<WriteOutcome>;
}

/** What one poll run did. */
export interface PollRunResult {
  pages: number;
  records: number;
  deadLetters: number;
  /** True when the run stopped early (shutdown). */
  interrupted: boolean;
  /** True when the run stopped at `maxPages` with more to read: the poller continues in a new run. */
  more: boolean;
}

/** What a poll run needs. */
export interface PollRunOptions {
  /** A connector whose system can be read; one that only pushes is never polled. */
  connector: ReadableConnector;
  connectorId: string;
  sourceProvinceCode: string;
  sourceCodeSet: MappingContext['sourceCodeSet'];
  /** The cursor committed in Postgres when the run starts. */
  committed: Cursor | null;
  sink: CommittingQueue;
  /** How long to wait for the writer to commit one batch. Default 5 minutes. */
  commitTimeoutMs?: number;
  /** Stops the run after the page in hand (shutdown). */
  signal?: AbortSignal;
  /**
   * Pages one run reads at most. Default 200. A backlog is then read in runs, so one connector with millions
   * of records does not hold a poller slot for hours while others wait.
   */
  maxPages?: number;
  /** Called with each page's count of source records, for metrics. */
  onPage?: (items: number) => void;
  /** Called with the run's counts after each page handed to the writer (`fleet connector status`). */
  onProgress?: (run: Readonly<PollRunResult>) => void;
  /**
   * Pages handed to the writer and not yet committed, at most. Default 4: the connector's system is read, and
   * the batches are queued, while earlier pages are written, so the writer's province queue holds several
   * batches to take together (group commit). 1 is the old handshake (page k+1 handed over once k committed).
   */
  pagesInFlight?: number;
  /**
   * Moves the cursor once every page before it is committed, when its batch committed before the page ahead
   * of it (its own move then found the cursor not yet where the page was read from). The poller passes
   * `commitCursor` on its database; without it such a move waits for the next run.
   */
  catchUpCursor?: (move: CursorMove, records: number) => Promise<boolean>;
  /** Reads one page; by default straight from the connector (the poller passes its breaker and retries). */
  readPage?: (state: ReadState | null, signal?: AbortSignal) => Promise<SourcePage>;
}

/**
 * Reads a connector from its committed cursor until it has caught up. Up to `pagesInFlight` pages are handed to
 * the writer before the first of them is committed. Each batch carries the cursor move from the previous page's
 * position, and the writer applies it in the same transaction as the records, only from that exact position
 * (guarantee 1): so the cursor reaches a page's position only once every page before it is committed, whatever
 * order the batches commit in. A batch that committed before the page ahead of it finds the cursor behind and
 * does not move it; once every page before it is committed, its move is made then (`catchUpCursor`), as
 * Airbyte's checkpoint manager releases a state only after all records before it are persisted.
 * The cursor only moves forward: a page whose cursor is not after the committed one carries no move.
 *
 * A run that stops at `maxPages` is continued by a new run from the committed cursor, so it must have moved
 * it: a run that read its pages without moving the cursor, or a source that serves the same records again
 * (it ignores the paging parameters, or its tokens lead in a circle), would be read again and again while
 * looking healthy. Both are errors, with what to check, recorded as the connector's last error.
 */
export async function runPoll(options: PollRunOptions): Promise<PollRunResult> {
  const { connector, sink, signal } = options;
  const readPage = options.readPage ?? ((state: ReadState | null, abort?: AbortSignal) => connector.read(state, abort));
  const timeout = options.commitTimeoutMs ?? 5 * 60_000;
  const result: PollRunResult = { pages: 0, records: 0, deadLetters: 0, interrupted: false, more: false };
  const maxPages = options.maxPages ?? 200;
  let before = options.committed;
  let readFrom = connector.startFrom(options.committed);
  const pagesInFlight = Math.max(1, options.pagesInFlight ?? 4);
  /** The batches handed over and not yet settled, oldest first, with the cursor move each carries. */
  const inFlight: { commit: Promise<WriteOutcome>; move: CursorMove | undefined; records: number }[] = [];
  /** Settles the oldest batch in flight; moves the cursor if its own move came before the page ahead of it. */
  let failed = false;
  let commitFailure: unknown;
  const settleOldest = async (): Promise<void> => {
    const oldest = inFlight.shift()!;
    const outcome = await oldest.commit.catch((error: unknown) => {
      failed = true;
      throw error;
    });
    // Every batch before this one is committed (settled in order; after a failure none is moved): the move is
    // safe, and conditional on the cursor being where this page was read from.
    if (!failed && oldest.move && outcome && !outcome.cursorMoved && options.catchUpCursor)
      await options.catchUpCursor(oldest.move, oldest.records);
  };
  /** A digest of every page with records read in this run, by page number in the run: at most maxPages of them. */
  const pagesSeen = new Map<string, number>();

  /**
   * Reads the page at `from` and hands its batch to the writer; returns where the next page is, null at the end.
   * A function of its own so that the page and its batch go with its frame: a suspended async function keeps what
   * its registers last held, stale values included, so a page read in `runPoll`'s own loop stayed alive while the
   * next one waited for room (a poller of 34 connectors: 34 pages of records and personal data, 60 % of its heap).
   */
  const readAndHandOver = async (from: ReadState | null): Promise<ReadState | null> => {
    const page = await readPage(from, signal);
    const observedAt = new Date();
    options.onPage?.(page.items.length);
    if (page.next !== null && JSON.stringify(page.next) === JSON.stringify(from)) {
      throw new SourceError(
        `connector ${options.connectorId}: the source has more pages but the next request would repeat this one; check the pagination settings`,
        false,
      );
    }
    if (page.items.length > 0) {
      // A page's count and its first and last records tell a repeated page apart: serialising every record of
      // every page again just to compare pages would be per-record work on the poll path.
      const digest = createHash('sha256')
        .update(`${page.items.length}\u0000${JSON.stringify(page.items[0])}\u0000${JSON.stringify(page.items.at(-1))}`)
        .digest('base64');
      const earlier = pagesSeen.get(digest);
      if (earlier !== undefined) {
        throw new SourceError(
          `connector ${options.connectorId}: page ${pagesSeen.size + 1} of this run holds the same ${page.items.length} records as page ${earlier}, so the walk would never end; the source seems to ignore the paging parameters or to lead back to a page already read: check the pagination settings against the system's API`,
          false,
        );
      }
      pagesSeen.set(digest, pagesSeen.size + 1);
    }
    const mapped = mapItems(connector, page.items, {
      connectorId: options.connectorId,
      sourceProvinceCode: options.sourceProvinceCode,
      sourceCodeSet: options.sourceCodeSet,
      observedAt,
    });
    // A page of the look-back window may lie behind the committed cursor: its records are stored, the cursor stays.
    const advances = before === null || connector.compareCursors(page.cursor, before) > 0;
    // A last page without records is handed over too when it moves the cursor: it may end a walk, and the
    // next run must know that it ended, or it would carry the finished walk on.
    if (page.items.length > 0 || (page.next === null && advances)) {
      const batch: IngestBatch = {
        origin: 'poll',
        connectorId: options.connectorId,
        provinceCode: currentProvinceCode(options.sourceProvinceCode, options.sourceCodeSet),
        records: mapped.records,
        deadLetters: mapped.deadLetters,
        ...(advances ? { cursor: { before, after: page.cursor } } : {}),
      };
      const commit = sink.addAndWait(batch, timeout);
      // Surface a failure when it is settled in order, not as an unhandled rejection meanwhile.
      commit.catch(() => {});
      inFlight.push({ commit, move: batch.cursor, records: mapped.records.length + mapped.deadLetters.length });
      if (advances) before = page.cursor;
      result.pages += 1;
      result.records += mapped.records.length;
      result.deadLetters += mapped.deadLetters.length;
      options.onProgress?.(result);
    }
    return page.next;
  };

  try {
    for (;;) {
      // Room for one more page before it is read, not after: a page read while the oldest commits are awaited would
      // be held, raw and mapped, for all that wait (with 34 connectors, 34 pages of records and personal data).
      while (inFlight.length >= pagesInFlight) await settleOldest();
      if (signal?.aborted) {
        result.interrupted = true;
        break;
      }
      const next = await readAndHandOver(readFrom);
      if (next === null) break;
      if (result.pages >= maxPages) {
        if (before === options.committed) {
          throw new SourceError(
            `connector ${options.connectorId}: read ${result.pages} pages, the most one run reads, without moving its cursor, so the next run would read the same pages again and never get further; the source holds more records than that at one cursor position (e.g. in the look-back window): raise the page size or shorten the look-back`,
            false,
          );
        }
        result.more = true;
        break;
      }
      readFrom = next;
    }
  } catch (error) {
    if (!signal?.aborted) throw error;
    result.interrupted = true;
  } finally {
    // Whatever happened to the read, the batches already handed over are still waited for: a shutdown then
    // leaves nothing in flight that this process started. An error of the read is the run's; else the first
    // failed commit, thrown below.
    while (inFlight.length > 0) await settleOldest().catch((error: unknown) => (commitFailure ??= error));
  }
  if (commitFailure !== undefined) throw commitFailure;
  return result;
}
