import { Queue, Worker, type Job } from 'bullmq';
import type { RedisConnection } from '../redis.js';
import type { Kysely } from 'kysely';
import { canRead, type ReadableConnector } from '../../connectors/sdk/connector.js';
import { createConnector } from '../../connectors/plugins.js';
import { currentProvinceCode, type CodeSet } from '../../config/provinces.js';
import { settleReadiness } from '../queue/settle-readiness.js';
import {
  findConnector,
  markConnectorError,
  markConnectorSuccess,
  type ConnectorRow,
} from '../../db/queries/connectors.js';
import { commitCursor, readCursor } from '../../db/queries/sync-cursors.js';
import type { Database } from '../../db/schema.js';
import { BackgroundErrorReporter, type BackgroundErrors, type ErrorSource } from '../background-error-reporter.js';
import { jobLogger, type Logger } from '../logger.js';
import type { FleetMetrics } from '../metrics.js';
import { queueNames, type PollJob } from '../queue/queues.js';
import { PollLock } from './poll-lock.js';
import { PollRunBoard, type PublishedRun } from './poll-run-board.js';
import { runPoll, type CommittingQueue } from './poll-run.js';
import { RedisRequestGate } from './redis-request-gate.js';
import { SourceGuard, type BreakerState } from './source-guard.js';
import { sourcePolicyOf } from '../../connectors/sdk/source-policy.js';

/** A connector's current (2025) province: the label of its metrics and logs, whatever code set its definition uses. */
const provinceOf = (row: ConnectorRow): string => currentProvinceCode(row.province_code, row.code_set as CodeSet);

/** Options of the poller. */
export interface PollerOptions {
  /** Connectors polled at once (POLLER_CONCURRENCY). Default 64. */
  concurrency?: number;
  /** Pages of one connector handed to the writer and not yet committed, at most (POLLER_PAGES_IN_FLIGHT). Default 4. */
  pagesInFlight?: number;
  /** Pages one poll run reads at most (POLLER_MAX_PAGES_PER_RUN); a longer backlog takes more runs. Default 200. */
  maxPagesPerRun?: number;
  /** Redis key prefix of the queues and locks. */
  prefix: string;
  /** Where failures no poll run awaits are told. Default: a reporter of its own over `logger` and `metrics`. */
  errors?: BackgroundErrors;
}

const pollQueueError: ErrorSource = {
  component: 'poll_queue',
  kind: 'queue',
  message: 'poll queue error; continuation runs wait for Redis',
};
const workerError: ErrorSource = {
  component: 'poller',
  kind: 'worker',
  message: 'poller queue connection error; poll jobs wait for Redis',
};
const connectorErrorNotRecorded: ErrorSource = {
  component: 'poller',
  kind: 'record_connector_error',
  message:
    "could not record a connector's error in Postgres; fleet connector list does not show it (the run's failure is in the line before)",
};
const lockNotReleased: ErrorSource = {
  component: 'poller',
  kind: 'lock_release',
  level: 'warn',
  message: 'could not release a poll lock; it lapses by itself within 6 s',
};
const leaseNotReleased: ErrorSource = {
  component: 'poller',
  kind: 'rate_limit_release',
  level: 'warn',
  message:
    "could not give back a request's place in a connector's rate limit; it frees itself after the request timeout",
};

/**
 * Runs poll jobs: for each, reads the connector's source from its committed cursor until caught up, and hands
 * the pages to the writer as batches. Connector instances are long-lived (one per connector per process), so
 * per-connector state such as a token cache survives between runs.
 */
export class Poller {
  private readonly worker: Worker<PollJob>;
  /** Where a run that stopped with more to read asks for the next one at once. */
  private readonly pollQueue: Queue<PollJob>;
  private readonly lock: PollLock;
  /** Where each run's progress is published for `fleet connector status`. */
  private readonly board: PollRunBoard;
  /** Per connector: the readable connector and its guard, or null for one whose system only pushes. */
  private readonly connectors = new Map<
    string,
    { updatedAt: number; polled: { connector: ReadableConnector; guard: SourceGuard } | null }
  >();
  private readonly shutdown = new AbortController();

  private readonly redis: RedisConnection;
  private readonly prefix: string;
  private readonly errors: BackgroundErrors;
  private readonly pagesInFlight: number;
  private readonly maxPagesPerRun: number;
  /** Told of every breaker state change (metrics, the connectors table). */
  onBreakerChange?: (connectorId: string, provinceCode: string, state: BreakerState) => void;

  constructor(
    private readonly db: Kysely<Database>,
    connection: RedisConnection,
    private readonly sink: CommittingQueue,
    private readonly metrics: FleetMetrics,
    private readonly logger: Logger,
    options: PollerOptions,
  ) {
    this.redis = connection;
    this.prefix = options.prefix;
    this.pagesInFlight = options.pagesInFlight ?? 4;
    this.maxPagesPerRun = options.maxPagesPerRun ?? 200;
    this.errors = options.errors ?? new BackgroundErrorReporter(logger, { counter: metrics.backgroundErrors });
    this.lock = new PollLock(connection, options.prefix, this.errors);
    this.board = new PollRunBoard(db, this.errors);
    this.pollQueue = new Queue<PollJob>(queueNames.poll, { connection, prefix: options.prefix });
    this.pollQueue.on('error', (error) => this.errors.report(pollQueueError, error, { queue: queueNames.poll }));
    this.worker = new Worker<PollJob>(queueNames.poll, (job) => this.process(job), {
      connection,
      prefix: options.prefix,
      concurrency: options.concurrency ?? 64,
      autorun: false,
    });
    this.worker.on('error', (error) => this.errors.report(workerError, error, { queue: queueNames.poll }));
  }

  /** Starts taking poll jobs. */
  start(): void {
    void this.worker.run();
  }

  /** Stops after the page in hand of each run, waits for their batches to commit, then stops taking jobs. */
  async close(): Promise<void> {
    this.shutdown.abort();
    await settleReadiness([this.worker, this.pollQueue]);
    await this.worker.close();
    for (const { polled } of this.connectors.values()) polled?.guard.shutdown();
    await this.pollQueue.close();
    await this.board.close();
  }

  /**
   * The connector and its guard, built once per connector per process (a changed definition builds them
   * again): the breaker's memory of failures and the connector's token cache must outlive one run. Null for a
   * connector whose system only pushes: there is nothing to poll.
   */
  private connectorFor(row: ConnectorRow): { connector: ReadableConnector; guard: SourceGuard } | null {
    const cached = this.connectors.get(row.id);
    const updatedAt = row.updated_at.getTime();
    if (cached && cached.updatedAt === updatedAt) return cached.polled;
    cached?.polled?.guard.shutdown();
    const policy = sourcePolicyOf(row.config);
    // A lease outlives the request's own timeout a little: a killed poller's place is free soon after.
    const gate = new RedisRequestGate(
      this.redis,
      this.prefix,
      row.id,
      policy.rateLimit,
      policy.requestTimeoutMs + 5000,
      (error) => this.errors.report(leaseNotReleased, error, { province: provinceOf(row), connector: row.id }),
    );
    const connector = createConnector({
      id: row.id,
      sourceProvinceCode: row.province_code,
      sourceCodeSet: row.code_set as CodeSet,
      kind: row.kind,
      config: row.config,
      gate,
    });
    if (!canRead(connector)) {
      this.connectors.set(row.id, { updatedAt, polled: null });
      return null;
    }
    const labels = { province: provinceOf(row), connector: row.id };
    const guard = new SourceGuard(row.id, policy.breaker, policy.retry, (state) => {
      this.logger.warn({ ...labels, breaker: state }, `circuit breaker of connector ${row.id} is now ${state}`);
      this.onBreakerChange?.(row.id, provinceOf(row), state);
    });
    const polled = { connector, guard };
    this.connectors.set(row.id, { updatedAt, polled });
    return polled;
  }

  private async process(job: Job<PollJob>): Promise<void> {
    const { connectorId } = job.data;
    const row = await findConnector(this.db, connectorId);
    if (!row || row.state !== 'active') return;
    const labels = { province: provinceOf(row), connector: row.id };
    // Every line of this run carries its province, connector and job.
    const log = jobLogger(this.logger, 'poll', { ...labels, job: job.id });
    const held = await this.lock.acquire(connectorId);
    if (!held) {
      this.metrics.pollRuns.inc({ ...labels, outcome: 'skipped_busy' });
      return;
    }
    let published: PublishedRun | undefined;
    try {
      const polled = this.connectorFor(row);
      if (!polled) {
        // Its system only pushes (a job left from before its definition said so): not a run, not an error.
        log.debug('poll job for a push-only connector ignored');
        return;
      }
      const { connector, guard } = polled;
      published = this.board.begin(connectorId);
      const stopTimer = this.metrics.operationDuration.startTimer({ stage: 'poll' });
      const result = await runPoll({
        connector,
        readPage: (state, signal) => guard.read(connector, state, signal),
        connectorId,
        sourceProvinceCode: row.province_code,
        sourceCodeSet: row.code_set as CodeSet,
        committed: await readCursor(this.db, connectorId),
        sink: this.sink,
        pagesInFlight: this.pagesInFlight,
        maxPages: this.maxPagesPerRun,
        catchUpCursor: (move, records) => commitCursor(this.db, connectorId, move, records),
        signal: this.shutdown.signal,
        onPage: (items) => this.metrics.recordsFetched.inc({ province: provinceOf(row) }, items),
        onProgress: (counts) => published?.page(counts),
      }).catch((error: unknown) => {
        stopTimer({ outcome: 'error' });
        throw error;
      });
      stopTimer({ outcome: 'ok' });
      if (!result.interrupted) this.metrics.connectorLastSync.set(labels, Date.now() / 1000);
      published.end(result.interrupted ? 'interrupted' : result.more ? 'continued' : 'caught_up');
      if (!result.interrupted) await markConnectorSuccess(this.db, connectorId);
      if (result.more && !result.interrupted) {
        // A backlog: the next run starts at once rather than at the next interval.
        await this.pollQueue.add(
          'poll',
          { connectorId },
          { jobId: `continue-${connectorId}-${Date.now()}`, removeOnComplete: true, removeOnFail: 100 },
        );
        this.metrics.pollRuns.inc({ ...labels, outcome: 'continued' });
      } else if (!result.interrupted) {
        this.metrics.pollRuns.inc({ ...labels, outcome: 'caught_up' });
      }
      if (result.records + result.deadLetters > 0) {
        log.debug(
          { pages: result.pages, records: result.records, deadLetters: result.deadLetters },
          'poll run committed',
        );
      }
    } catch (error) {
      // The next scheduled run starts again from the committed cursor: nothing is lost, only delayed.
      const message = error instanceof Error ? error.message : String(error);
      this.metrics.pollRuns.inc({ ...labels, outcome: 'failed' });
      published?.end('failed');
      log.warn({ err: message }, 'poll run failed; the next run resumes from the committed cursor');
      await markConnectorError(this.db, connectorId, message).catch((failure: unknown) =>
        this.errors.report(connectorErrorNotRecorded, failure, labels),
      );
    } finally {
      await held.release().catch((failure: unknown) => this.errors.report(lockNotReleased, failure, labels));
    }
  }
}
