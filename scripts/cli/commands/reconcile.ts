import type { Config } from '../../../config/env.js';
import { assertDatabaseReachable, createDatabase } from '../../../db/database.js';
import { countAnomalies, listAnomalies } from '../../../db/queries/dossier-anomalies.js';
import { findReconcileRun, findUnfinishedReconcile, listReconcileRuns } from '../../../db/queries/reconcile-runs.js';
import { BackgroundErrorReporter } from '../../../workers/background-error-reporter.js';
import { cliActor } from '../../../workers/control-plane/audit.js';
import {
  ReconcileRefusedError,
  reconcileRunView,
  type CheckedReconcile,
  type ReconcileRunView,
} from '../../../workers/control-plane/reconcile.js';
import { isoTime } from '../../../workers/control-plane/view-time.js';
import { createLogger } from '../../../workers/logger.js';
import type { ReconcileCounts } from '../../../workers/reconciler/reconcile-run.js';
import { ReconcileSession } from '../../../workers/reconciler/reconcile-session.js';
import { assertRedisReachable, createRedis } from '../../../workers/redis.js';
import { exitCodes, NotFoundError, UsageError } from '../cli-errors.js';
import { formatTable, formatTime, withDatabase } from '../cli-output.js';
import { printView, type OutputFormat } from '../output-format.js';
import { Progress } from '../progress.js';

// `fleet reconcile`: compares a connector's copy with its source over a range of update times, bucket by bucket,
// in this process, and repairs what differs through the province's ingest queue (a running writer commits it).

/** The options of `fleet reconcile`, as commander gives them. */
export interface ReconcileOptions {
  connector?: string;
  from?: string;
  to?: string;
  report?: boolean;
  limit: number;
  output?: OutputFormat;
}

const timeHelp = 'expected ISO 8601 such as 2026-11-01 or 2026-11-01T00:00:00+07:00';

function timeOption(name: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const time = new Date(value);
  if (Number.isNaN(time.getTime()))
    throw new UsageError(`fleet reconcile: ${name} ${JSON.stringify(value)} is not a time; ${timeHelp}`);
  return time;
}

/** `fleet reconcile …`: a run (or the connector's unfinished one, resumed), or `--report`. */
export async function reconcileCommand(config: Config, options: ReconcileOptions): Promise<void> {
  if (options.report) return reconcileReport(config, options);
  if (!options.connector)
    throw new UsageError('fleet reconcile: --connector is required (with --from and --to, optional); or --report');
  const from = timeOption('--from', options.from);
  const to = timeOption('--to', options.to);
  return reconcileRun(config, {
    connectorId: options.connector,
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
  });
}

/** What `fleet reconcile --report -o json` prints. */
interface ReportView {
  runs: ReconcileRunView[];
  anomalies: { connectorId: string; kind: string; count: number }[];
  recentAnomalies: {
    connectorId: string;
    provinceCode: string;
    dossierCode: string;
    kind: string;
    fromStatus: number | null;
    toStatus: number | null;
    storedVersion: number | null;
    sourceVersion: number | null;
    reconcileRun: string | null;
    detectedAt: string;
  }[];
}

/** `fleet reconcile --report [--connector ID]`: recent runs, what they found, and the anomalies recorded. */
async function reconcileReport(config: Config, options: ReconcileOptions): Promise<void> {
  await withDatabase(config, async (db) => {
    const filter = options.connector === undefined ? {} : { connectorId: options.connector };
    const runs = await listReconcileRuns(db, { ...filter, limit: options.limit });
    const counts = await countAnomalies(db, filter);
    const recent = await listAnomalies(db, { ...filter, limit: options.limit });
    const view: ReportView = {
      runs: runs.map(reconcileRunView),
      anomalies: counts,
      recentAnomalies: recent.map((row) => ({
        connectorId: row.connector_id,
        provinceCode: row.province_code,
        dossierCode: row.dossier_code,
        kind: row.kind,
        fromStatus: row.from_status,
        toStatus: row.to_status,
        storedVersion: row.stored_version === null ? null : Number(row.stored_version),
        sourceVersion: row.source_version === null ? null : Number(row.source_version),
        reconcileRun: row.reconcile_run_id === null ? null : String(row.reconcile_run_id),
        detectedAt: isoTime(row.detected_at)!,
      })),
    };
    printView(view, options.output, (report) => [
      report.runs.length === 0
        ? 'no reconcile runs'
        : formatTable(
            [
              'RUN',
              'CONNECTOR',
              'FROM',
              'TO',
              'METHOD',
              'BUCKETS',
              'DIFFERING',
              'REQUESTS',
              'MISSING',
              'EXTRA',
              'VERSION',
              'STATE',
              'REPAIRED',
              'STATUS',
              'STARTED BY',
              'SECONDS',
              'ERROR',
            ],
            report.runs.map((run) => [
              run.id,
              run.connectorId,
              formatTime(run.from),
              formatTime(run.to),
              run.method,
              `${run.bucketsDone}/${run.bucketsTotal}`,
              String(run.bucketsDiffering),
              String(run.requests),
              String(run.mismatches.missingHere),
              String(run.mismatches.extraHere),
              String(run.mismatches.differentVersion),
              String(run.mismatches.differentState),
              String(run.repaired),
              run.status,
              run.startedBy,
              String(run.seconds),
              run.error ?? '-',
            ]),
          ),
      '',
      report.anomalies.length === 0
        ? 'no anomalies'
        : formatTable(
            ['CONNECTOR', 'ANOMALY', 'COUNT'],
            report.anomalies.map((row) => [row.connectorId, row.kind, String(row.count)]),
          ),
      ...(report.recentAnomalies.length === 0
        ? []
        : [
            '',
            formatTable(
              ['DETECTED', 'CONNECTOR', 'DOSSIER', 'ANOMALY', 'STATUS', 'VERSION', 'RUN'],
              report.recentAnomalies.map((row) => [
                formatTime(row.detectedAt),
                row.connectorId,
                row.dossierCode,
                row.kind,
                `${row.fromStatus ?? '-'} → ${row.toStatus ?? '-'}`,
                `${row.storedVersion ?? '-'} → ${row.sourceVersion ?? '-'}`,
                row.reconcileRun ?? '-',
              ]),
            ),
          ]),
    ]);
  });
}

/** The progress line: buckets done of total, mismatches found and repaired, requests and records, time left. */
export function reconcileProgressLine(
  connectorId: string,
  runId: string,
  counts: ReconcileCounts,
  startedAt: number,
  startDone: number,
  now = Date.now(),
): string {
  const seconds = Math.max((now - startedAt) / 1000, 0.001);
  const here = counts.bucketsDone - startDone;
  const left = here > 0 ? ((counts.bucketsTotal - counts.bucketsDone) * seconds) / here : null;
  const eta =
    left === null
      ? '?'
      : `${Math.floor(left / 3600)}:${String(Math.floor((left % 3600) / 60)).padStart(2, '0')}:${String(Math.floor(left % 60)).padStart(2, '0')}`;
  return `reconcile ${connectorId} run ${runId}: buckets ${counts.bucketsDone}/${counts.bucketsTotal}, ${counts.mismatches} mismatches, ${counts.repaired} repaired, ${counts.requests} requests, ${counts.records} records read, ETA ${eta}`;
}

/** Runs (or resumes) a reconcile in this process until its range is done, a signal stops it, or the source fails. */
async function reconcileRun(config: Config, request: { connectorId: string; from?: Date; to?: Date }): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL, 'reconcile');
  const errors = new BackgroundErrorReporter(logger);
  const db = createDatabase(config.DATABASE_URL, { maxConnections: 3, applicationName: 'dossier-sync-reconcile' });
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
    redis = createRedis(config.REDIS_URL, { lazy: true });
    const session = new ReconcileSession({ config, db, redis, logger, errors });
    let checked: CheckedReconcile;
    try {
      checked = await session.check(request);
    } catch (error) {
      if (error instanceof ReconcileRefusedError)
        throw error.reason === 'not_found' ? new NotFoundError(error.message) : new UsageError(error.message);
      throw error;
    }
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const progress = new Progress();
    const startedAt = Date.now();
    let startDone = 0;
    let outcome;
    try {
      outcome = await session.run(checked, cliActor(), {
        signal: stop.signal,
        onProgress: (runId, counts) => {
          if (startDone === 0 && counts.bucketsDone > 0) startDone = counts.bucketsDone - 1;
          progress.update(reconcileProgressLine(checked.row.id, runId, counts, startedAt, startDone));
        },
      });
    } finally {
      progress.done();
    }
    if (!outcome) {
      const running = await findUnfinishedReconcile(db, checked.row.id);
      console.error(
        `fleet reconcile: connector ${checked.row.id} is being reconciled by another process now${running ? ` (run ${running.id}, ${running.buckets_done}/${running.buckets_total} buckets)` : ''}; one reconcile runs per connector at a time — wait for it, or stop it and run this again to resume it`,
      );
      process.exitCode = exitCodes.failed;
      return;
    }
    const stored = await findReconcileRun(db, outcome.runId);
    const view = stored ? reconcileRunView(stored) : null;
    const summary = view
      ? `${view.bucketsDone}/${view.bucketsTotal} buckets (${view.bucketsDiffering} differing, ${view.scopesCompared} scopes compared), ${view.requests} requests, ${view.recordsFetched} records read; mismatches: ${view.mismatches.missingHere} missing here, ${view.mismatches.extraHere} extra here, ${view.mismatches.differentVersion} different version, ${view.mismatches.differentState} different state; ${view.repaired} repaired`
      : '';
    const name = `reconcile run ${outcome.runId} of connector ${outcome.connectorId}`;
    if (outcome.end === 'done') console.log(`${name} done: ${summary}`);
    else if (outcome.end === 'failed') {
      console.error(`${name} failed at ${summary}: ${outcome.error}; run the same command again to resume it`);
      process.exitCode = exitCodes.failed;
    } else if (outcome.end === 'interrupted') {
      console.log(`${name} stopped at ${summary}; run the same command again to resume it`);
      process.exitCode = exitCodes.failed;
    } else {
      console.log(`${name} was cancelled meanwhile: ${summary}`);
      process.exitCode = exitCodes.failed;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    redis?.disconnect();
    await db.destroy();
  }
}
