import type { Kysely } from 'kysely';
import type { Config } from '../../config/env.js';
import type { CodeSet } from '../../config/provinces.js';
import { createConnector } from '../../connectors/plugins.js';
import type { Connector, SourcePage } from '../../connectors/sdk/connector.js';
import { SourceError } from '../../connectors/sdk/source-error.js';
import { sourcePolicyOf } from '../../connectors/sdk/source-policy.js';
import type { ConnectorRow } from '../../db/queries/connectors.js';
import { setReconcileStatus, withReconcileLock } from '../../db/queries/reconcile-runs.js';
import type { Database } from '../../db/schema.js';
import type { BackgroundErrorReporter } from '../background-error-reporter.js';
import type { Actor } from '../control-plane/audit.js';
import {
  checkReconcile,
  openReconcile,
  type CheckedReconcile,
  type ReconcileRequest,
} from '../control-plane/reconcile.js';
import { jobLogger, type Logger } from '../logger.js';
import type { FleetMetrics } from '../metrics.js';
import { RedisRequestGate } from '../poller/redis-request-gate.js';
import { SourceGuard } from '../poller/source-guard.js';
import { BatchNotCommittedError, openIngestQueue } from '../queue/ingest-queue.js';
import type { createRedis } from '../redis.js';
import { CountingGate } from './counting-gate.js';
import { ReconcileRun, type ReconcileCounts, type ReconcileEnd } from './reconcile-run.js';

/** How a run ended in this process, and what it says. */
export interface ReconcileOutcome {
  runId: string;
  connectorId: string;
  end: ReconcileEnd | 'failed';
  resumed: boolean;
  error: string | null;
}

/** What running a reconcile in a process needs: its database, Redis for the request gate, and its settings. */
export interface ReconcileSessionOptions {
  config: Config;
  db: Kysely<Database>;
  redis: ReturnType<typeof createRedis>;
  logger: Logger;
  errors: BackgroundErrorReporter;
  /** The process's metrics, when it serves /metrics: each run is observed once (stage reconcile). */
  metrics?: Pick<FleetMetrics, 'operationDuration'>;
}

/**
 * Runs reconciles in this process (`fleet reconcile`, the reconciler role): the connector built with the poller's
 * request gate in Redis (one rate limit per connector, shared with polls and backfills), counted; the source
 * reached through a breaker and retries; repairs through the province's ingest queue, committed by a writer.
 */
export class ReconcileSession {
  private readonly gates = new Map<string, CountingGate>();

  constructor(private readonly options: ReconcileSessionOptions) {}

  /** Builds a connector whose requests are counted. */
  readonly build = (row: ConnectorRow): Connector => {
    const policy = sourcePolicyOf(row.config);
    const gate = new CountingGate(
      new RedisRequestGate(
        this.options.redis,
        this.options.config.QUEUE_PREFIX,
        row.id,
        policy.rateLimit,
        policy.requestTimeoutMs + 5000,
      ),
    );
    this.gates.set(row.id, gate);
    return createConnector({
      id: row.id,
      sourceProvinceCode: row.province_code,
      sourceCodeSet: row.code_set as CodeSet,
      kind: row.kind,
      config: row.config,
      gate,
    });
  };

  /** Checks a request (throws ReconcileRefusedError). */
  check(request: ReconcileRequest): Promise<CheckedReconcile> {
    return checkReconcile(this.options.db, request, this.build);
  }

  /**
   * Opens (or resumes) and runs the checked request with the connector's lock held; null when another process
   * holds it. A source failing past its retries or a repair not committed ends the run as failed, resumable.
   */
  async run(
    checked: CheckedReconcile,
    actor: Actor | 'schedule',
    options: {
      signal?: AbortSignal;
      onStart?: (runId: string, resumed: boolean) => void;
      onProgress?: (runId: string, counts: Readonly<ReconcileCounts>) => void;
    } = {},
  ): Promise<ReconcileOutcome | null> {
    const { db, config, logger, errors } = this.options;
    const locked = await withReconcileLock(db, checked.row.id, async () => {
      const { run, resumed } = await openReconcile(db, checked, actor);
      const runId = String(run.id);
      // Every line of this run carries its province, connector and run (the job).
      const log = jobLogger(logger, 'reconcile', {
        province: checked.provinceCode,
        connector: checked.row.id,
        job: runId,
      });
      log.info({ resumed }, resumed ? 'reconcile resumed' : 'reconcile started');
      options.onStart?.(runId, resumed);
      const policy = sourcePolicyOf(checked.row.config);
      const guard = new SourceGuard(checked.row.id, policy.breaker, policy.retry, (state) =>
        log.warn({ breaker: state }, `circuit breaker of connector ${checked.row.id} is now ${state}`),
      );
      const gate = this.gates.get(checked.row.id);
      const ingest = await openIngestQueue(
        config.REDIS_URL,
        config.QUEUE_PREFIX,
        errors,
        config.INGEST_KEPT_COMPLETED_BATCHES,
      );
      const outcome: ReconcileOutcome = { runId, connectorId: checked.row.id, end: 'failed', resumed, error: null };
      // One observation per run in this process: ok when it finished, was stopped or cancelled; error when it failed.
      const stopTimer = this.options.metrics?.operationDuration.startTimer({ stage: 'reconcile' });
      let phases: ReconcileRun['phases'] | null = null;
      try {
        const reconcile = new ReconcileRun({
          db,
          runId,
          connector: checked.connector,
          connectorId: checked.row.id,
          sourceProvinceCode: checked.row.province_code,
          sourceCodeSet: checked.row.code_set as CodeSet,
          provinceCode: checked.provinceCode,
          range: { from: run.range_from, to: run.range_to },
          method: run.method,
          bucketsDone: run.buckets_done,
          sink: ingest,
          // SourceGuard reads pages; any source call goes through the same breaker and retries.
          call: <T>(call: () => Promise<T>, signal?: AbortSignal) =>
            guard.readWith(call as unknown as () => Promise<SourcePage>, signal) as unknown as Promise<T>,
          requests: () => gate?.requests ?? 0,
          signal: options.signal,
          onProgress: (counts) => options.onProgress?.(runId, counts),
        });
        phases = reconcile.phases;
        outcome.end = await reconcile.run();
        if (outcome.end === 'done') await setReconcileStatus(db, runId, 'done');
        stopTimer?.({ outcome: 'ok' });
      } catch (error) {
        stopTimer?.({ outcome: 'error' });
        const message = error instanceof Error ? error.message : String(error);
        await setReconcileStatus(db, runId, 'failed', message.slice(0, 2000));
        if (!(error instanceof SourceError || error instanceof BatchNotCommittedError)) throw error;
        outcome.error = message;
      } finally {
        guard.shutdown();
        await ingest.close();
      }
      log.info(
        { end: outcome.end, error: outcome.error, phases: phases?.summary() },
        `reconcile run ${runId} of connector ${checked.row.id}: ${outcome.end}`,
      );
      return outcome;
    });
    return locked?.value ?? null;
  }
}
