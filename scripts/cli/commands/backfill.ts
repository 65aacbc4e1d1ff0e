import type { Config } from '../../../config/env.js';
import type { CodeSet } from '../../../config/provinces.js';
import { createConnector } from '../../../connectors/plugins.js';
import type { Json } from '../../../connectors/sdk/connector.js';
import { SourceError } from '../../../connectors/sdk/source-error.js';
import { sourcePolicyOf } from '../../../connectors/sdk/source-policy.js';
import { assertDatabaseReachable, createDatabase } from '../../../db/database.js';
import {
  findBackfillRun,
  findUnfinishedBackfill,
  listBackfillRuns,
  setBackfillStatus,
  withBackfillLock,
} from '../../../db/queries/backfill-runs.js';
import type { ConnectorRow } from '../../../db/queries/connectors.js';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { runBackfill, type BackfillCounts } from '../../../workers/backfill/backfill-run.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import {
  BackfillRefusedError,
  backfillRunView,
  busyMessage,
  cancelBackfill,
  checkBackfill,
  openBackfill,
  type CheckedBackfill,
} from '../../../workers/control-plane/backfill.js';
import { createLogger, jobLogger } from '../../../workers/logger.js';
import { RedisRequestGate } from '../../../workers/poller/redis-request-gate.js';
import { SourceGuard } from '../../../workers/poller/source-guard.js';
import { BatchNotCommittedError, openIngestQueue } from '../../../workers/queue/ingest-queue.js';
import { assertRedisReachable, createRedis } from '../../../workers/redis.js';
import { exitCodes, NotFoundError, UsageError } from '../cli-errors.js';
import { formatTable, formatTime, withDatabase } from '../cli-output.js';
import { printView, type OutputFormat } from '../output-format.js';
import { Progress } from '../progress.js';

// `fleet backfill`: reads a connector's history window by window, in this process, until the range is done.
// Its batches go through the province's ingest queue behind the live ones; a running writer commits them.

/** The options of `fleet backfill`, as commander gives them. */
export interface BackfillOptions {
  connector?: string;
  from?: string;
  to?: string;
  windowHours?: number;
  status?: boolean;
  cancel?: boolean;
  limit: number;
  output?: OutputFormat;
}

const timeHelp = 'expected ISO 8601 such as 2026-11-01 or 2026-11-01T00:00:00+07:00';

/** A time option as the CLI's other time options read it (ISO 8601). */
function timeOption(name: string, value: string | undefined): Date {
  if (value === undefined) throw new UsageError(`fleet backfill: ${name} is required; ${timeHelp}`);
  const time = new Date(value);
  if (Number.isNaN(time.getTime()))
    throw new UsageError(`fleet backfill: ${name} ${JSON.stringify(value)} is not a time; ${timeHelp}`);
  return time;
}

/** `fleet backfill …`: a run, `--status`, or `--cancel`. */
export async function backfillCommand(config: Config, options: BackfillOptions): Promise<void> {
  if (options.status) return backfillStatus(config, options);
  if (!options.connector)
    throw new UsageError('fleet backfill: --connector is required (with --from and --to, or --cancel); or --status');
  if (options.cancel) return backfillCancel(config, options.connector);
  const request = {
    connectorId: options.connector,
    from: timeOption('--from', options.from),
    to: timeOption('--to', options.to),
    ...(options.windowHours === undefined ? {} : { windowHours: options.windowHours }),
  };
  return backfillRun(config, request);
}

/** `fleet backfill --status [--connector ID]`: the runs, newest first. */
async function backfillStatus(config: Config, options: BackfillOptions): Promise<void> {
  await withDatabase(config, async (db) => {
    const rows = await listBackfillRuns(db, { connectorId: options.connector, limit: options.limit });
    printView({ runs: rows.map(backfillRunView) }, options.output, (view) =>
      view.runs.length === 0
        ? 'no backfill runs'
        : formatTable(
            [
              'RUN',
              'CONNECTOR',
              'FROM',
              'TO',
              'WINDOW',
              'WINDOWS',
              'RECORDS',
              'STATUS',
              'STARTED BY',
              'UPDATED',
              'ERROR',
            ],
            view.runs.map((run) => [
              run.id,
              run.connectorId,
              formatTime(run.from),
              formatTime(run.to),
              `${run.windowHours} h`,
              `${run.windowsDone}/${run.windowsTotal}`,
              String(run.records),
              run.status,
              run.startedBy,
              formatTime(run.updatedAt),
              run.error ?? '-',
            ]),
          ),
    );
  });
}

/**
 * `fleet backfill --cancel --connector ID`: gives up the connector's unfinished run, even one a process carries now
 * (it stops after the page in hand: its next batch moves nothing).
 */
async function backfillCancel(config: Config, connectorId: string): Promise<void> {
  await withDatabase(config, async (db) => {
    const run = await findUnfinishedBackfill(db, connectorId);
    const cancelled = run ? await cancelBackfill(db, run, cliActor()) : null;
    if (!cancelled) throw new NotFoundError(`fleet backfill: connector ${connectorId} has no unfinished backfill run`);
    console.log(
      `cancelled backfill run ${cancelled.id} of connector ${connectorId} (${cancelled.windows_done}/${cancelled.windows_total} windows were done; what they stored stays)`,
    );
  });
}

/** The progress line: windows done of total, records, records/s and the time left, from this process's pace. */
export function progressLine(
  connectorId: string,
  runId: string,
  counts: BackfillCounts,
  startedAt: number,
  startDone: number,
  now = Date.now(),
): string {
  const seconds = Math.max((now - startedAt) / 1000, 0.001);
  const rate = counts.records / seconds;
  const windowsHere = counts.windowsDone - startDone;
  const left = windowsHere > 0 ? ((counts.windowsTotal - counts.windowsDone) * seconds) / windowsHere : null;
  const eta =
    left === null
      ? '?'
      : `${Math.floor(left / 3600)}:${String(Math.floor((left % 3600) / 60)).padStart(2, '0')}:${String(Math.floor(left % 60)).padStart(2, '0')}`;
  return `backfill ${connectorId} run ${runId}: windows ${counts.windowsDone}/${counts.windowsTotal}, ${counts.records} records, ${Math.round(rate)} records/s, ETA ${eta}`;
}

/** Runs (or resumes) a backfill in this process until its range is done, a signal stops it, or the source fails. */
async function backfillRun(
  config: Config,
  request: { connectorId: string; from: Date; to: Date; windowHours?: number },
): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL, 'backfill');
  const errors = new BackgroundErrorReporter(logger);
  // One connection holds the connector's lock for the whole run; the others read and record.
  const db = createDatabase(config.DATABASE_URL, { maxConnections: 3, applicationName: 'dossier-sync-backfill' });
  await assertDatabaseReachable(db, config.DATABASE_URL).catch(async (error: unknown) => {
    await db.destroy();
    throw error;
  });
  let redis: ReturnType<typeof createRedis> | null = null;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  try {
    await assertRedisReachable(config.REDIS_URL);
    // Lazy: a request refused below (an unknown connector) ends the command without ever opening it.
    const gateRedis = createRedis(config.REDIS_URL, { lazy: true });
    redis = gateRedis;
    // The same request gate the poller uses (one rate limit in Redis per connector): backfill and polls share it.
    const build = (row: ConnectorRow) => {
      const policy = sourcePolicyOf(row.config);
      return createConnector({
        id: row.id,
        sourceProvinceCode: row.province_code,
        sourceCodeSet: row.code_set as CodeSet,
        kind: row.kind,
        config: row.config,
        gate: new RedisRequestGate(
          gateRedis,
          config.QUEUE_PREFIX,
          row.id,
          policy.rateLimit,
          policy.requestTimeoutMs + 5000,
        ),
      });
    };
    let checked: CheckedBackfill;
    try {
      checked = await checkBackfill(db, request, build);
    } catch (error) {
      if (error instanceof BackfillRefusedError)
        throw error.reason === 'not_found' ? new NotFoundError(error.message) : new UsageError(error.message);
      throw error;
    }
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const locked = await withBackfillLock(db, request.connectorId, async () => {
      let opened;
      try {
        opened = await openBackfill(db, checked, cliActor());
      } catch (error) {
        if (error instanceof BackfillRefusedError) throw new UsageError(error.message);
        throw error;
      }
      const { run, resumed } = opened;
      // Every line of this run carries its province, connector and run (the job).
      const log = jobLogger(logger, 'backfill', {
        province: run.province_code,
        connector: run.connector_id,
        job: run.id,
      });
      const policy = sourcePolicyOf(checked.row.config);
      const guard = new SourceGuard(checked.row.id, policy.breaker, policy.retry, (state) =>
        log.warn({ breaker: state }, `circuit breaker of connector ${checked.row.id} is now ${state}`),
      );
      const ingest = await openIngestQueue(
        config.REDIS_URL,
        config.QUEUE_PREFIX,
        errors,
        config.INGEST_KEPT_COMPLETED_BATCHES,
      );
      const progress = new Progress();
      const startedAt = Date.now();
      const counters = { records: 0 };
      log.info(
        { windowsDone: run.windows_done, windows: run.windows_total },
        resumed ? 'backfill resumed' : 'backfill started',
      );
      try {
        const end = await runBackfill({
          runId: String(run.id),
          connector: checked.connector,
          connectorId: checked.row.id,
          sourceProvinceCode: checked.row.province_code,
          sourceCodeSet: checked.row.code_set as CodeSet,
          range: { from: run.range_from, to: run.range_to, windowHours: run.window_hours },
          committed: { windowsDone: run.windows_done, position: run.position as Json | null },
          sink: ingest,
          readPage: (window, state, signal) =>
            guard.readWith(() => checked.connector.readWindow(window, state, signal), signal),
          reload: async () => {
            const stored = await findBackfillRun(db, String(run.id));
            return {
              status: stored?.status ?? 'cancelled',
              progress: { windowsDone: stored?.windows_done ?? 0, position: (stored?.position ?? null) as Json | null },
            };
          },
          signal: stop.signal,
          onProgress: (counts) => {
            counters.records = counts.records;
            progress.update(progressLine(run.connector_id, String(run.id), counts, startedAt, run.windows_done));
          },
        });
        log.debug({ end, records: counters.records }, `backfill run ${end}`);
        return { run, end, seconds: (Date.now() - startedAt) / 1000, committed: counters.records, error: null };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        await setBackfillStatus(db, String(run.id), 'failed', message.slice(0, 2000));
        // A source that fails past its retries, or a batch the writer did not commit: said as such, resumable.
        if (!(error instanceof SourceError || error instanceof BatchNotCommittedError)) throw error;
        return {
          run,
          end: 'failed' as const,
          seconds: (Date.now() - startedAt) / 1000,
          committed: counters.records,
          error: message,
        };
      } finally {
        progress.done();
        guard.shutdown();
        await ingest.close();
      }
    });
    if (!locked) {
      console.error(await busyMessage(db, request.connectorId));
      process.exitCode = exitCodes.failed;
      return;
    }
    const { run, end, seconds, committed, error } = locked.value;
    const stored = await findBackfillRun(db, String(run.id));
    const pace = `${committed} records by this process in ${seconds.toFixed(1)} s, ${Math.round(committed / Math.max(seconds, 0.001))} records/s`;
    const summary = `${stored?.windows_done}/${stored?.windows_total} windows, ${stored?.records} records, ${stored?.dead_letters} dead letters (${pace})`;
    if (end === 'done') console.log(`backfill run ${run.id} of connector ${run.connector_id} done: ${summary}`);
    else if (end === 'failed') {
      console.error(
        `backfill run ${run.id} of connector ${run.connector_id} failed at ${summary}: ${error}; run the same command again to resume it`,
      );
      process.exitCode = exitCodes.failed;
    } else if (end === 'interrupted') {
      console.log(
        `backfill run ${run.id} of connector ${run.connector_id} stopped at ${summary}; run the same command again to resume it`,
      );
      process.exitCode = exitCodes.failed;
    } else {
      console.log(`backfill run ${run.id} of connector ${run.connector_id} was cancelled meanwhile: ${summary}`);
      process.exitCode = exitCodes.failed;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    redis?.disconnect();
    await db.destroy();
  }
}
