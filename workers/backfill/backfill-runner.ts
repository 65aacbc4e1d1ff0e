import type { RedisConnection } from '../redis.js';
import type { Kysely } from 'kysely';
import { createConnector } from '../../connectors/plugins.js';
import type { Json } from '../../connectors/sdk/connector.js';
import { sourcePolicyOf } from '../../connectors/sdk/source-policy.js';
import type { CodeSet } from '../../config/provinces.js';
import { findBackfillRun, setBackfillStatus, withBackfillLock } from '../../db/queries/backfill-runs.js';
import { findConnector } from '../../db/queries/connectors.js';
import type { Database } from '../../db/schema.js';
import type { BackgroundErrors, ErrorSource } from '../background-error-reporter.js';
import { jobLogger, type Logger } from '../logger.js';
import type { FleetMetrics } from '../metrics.js';
import type { CommittingQueue } from '../poller/poll-run.js';
import { RedisRequestGate } from '../poller/redis-request-gate.js';
import { SourceGuard } from '../poller/source-guard.js';
import { canReadWindow, runBackfill, type BackfillEnd } from './backfill-run.js';

// The fleet's side of backfills (the reconciler role): every few seconds it looks for runs still `running` that no
// process holds — started over HTTP (`POST /v1/admin/connectors/{id}/backfill`), or a `fleet backfill` stopped or
// killed — takes the connector's backfill lock (a Postgres session lock, the one `fleet backfill` takes; a run held
// by another process is left to it) and carries the run on from its committed progress with the same code as the
// command (`runBackfill`): the connector's request gate in Redis (one rate limit with its polls), a breaker, and the
// province's ingest queue behind the live batches.

/** Options of the backfill runner. */
export interface BackfillRunnerOptions {
  /** Redis key prefix of the queues and of the connectors' request gates. */
  prefix: string;
  /** How often unheld running runs are looked for. Default 2 s. */
  intervalMs?: number;
  /** Runs carried at once by this process (one per connector). Default 4. */
  maxRuns?: number;
  errors: BackgroundErrors;
  /** The process's metrics: each page its runs read is observed (stage backfill). */
  metrics?: Pick<FleetMetrics, 'operationDuration'>;
}

const lookupFailed: ErrorSource = {
  component: 'backfill_runner',
  kind: 'lookup',
  message: 'could not look for backfill runs to carry on; the next look is in a few seconds',
};
const runFailed: ErrorSource = {
  component: 'backfill_runner',
  kind: 'run',
  message:
    'could not carry on a backfill run (Postgres or Redis failing); it stays running and is tried again in a few seconds',
};

/** Carries on, in this process, the backfill runs that are running but held by no process. */
export class BackfillRunner {
  private readonly stopping = new AbortController();
  private readonly active = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private looking: Promise<void> | null = null;
  private readonly intervalMs: number;
  private readonly maxRuns: number;

  constructor(
    /** A pool of the runner's own: each run holds one connection for its lock, and reads and records on others. */
    private readonly db: Kysely<Database>,
    private readonly redis: RedisConnection,
    private readonly sink: CommittingQueue,
    private readonly logger: Logger,
    private readonly options: BackfillRunnerOptions,
  ) {
    this.intervalMs = options.intervalMs ?? 2000;
    this.maxRuns = options.maxRuns ?? 4;
  }

  /** Starts looking for runs, at once and then every interval. */
  start(): void {
    const tick = () => {
      if (this.stopping.signal.aborted) return;
      this.looking = this.lookOnce()
        .catch((error: unknown) => this.options.errors.report(lookupFailed, error))
        .finally(() => {
          this.looking = null;
          if (!this.stopping.signal.aborted) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    tick();
  }

  /** Stops every run after the page in hand (each stays `running`, resumable from its committed progress). */
  async close(): Promise<void> {
    this.stopping.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.looking;
    await Promise.all(this.active.values());
  }

  /** The runs being carried by this process now (their ids). */
  get carrying(): string[] {
    return [...this.active.keys()];
  }

  /** One look: starts every running run this process does not carry yet, while it has room, if no one holds it. */
  async lookOnce(): Promise<void> {
    const running = await this.db
      .selectFrom('backfill_runs')
      .select(['id', 'connector_id'])
      .where('status', '=', 'running')
      .orderBy('id')
      .execute();
    for (const { id, connector_id: connectorId } of running) {
      if (this.stopping.signal.aborted || this.active.size >= this.maxRuns) return;
      const runId = String(id);
      if (this.active.has(runId)) continue;
      // Settled once the run is started (lock taken) or found held by another process.
      let taken!: (value: boolean) => void;
      const started = new Promise<boolean>((resolve) => (taken = resolve));
      const carried = this.carry(runId, connectorId, taken)
        .catch((error: unknown) => {
          taken(false);
          this.options.errors.report(runFailed, error, { connector: connectorId, run: runId });
        })
        .finally(() => this.active.delete(runId));
      this.active.set(runId, carried);
      await started;
    }
  }

  /** Takes the connector's lock and carries the run on; `taken` says whether the lock was free. */
  private async carry(runId: string, connectorId: string, taken: (value: boolean) => void): Promise<void> {
    const locked = await withBackfillLock(this.db, connectorId, async () => {
      taken(true);
      // Read again under the lock: the process that held it may have finished or failed it meanwhile.
      const run = await findBackfillRun(this.db, runId);
      if (!run || run.status !== 'running') return null;
      const row = await findConnector(this.db, connectorId);
      // Every line of this run carries its province, connector and run (the job).
      const log = jobLogger(this.logger, 'backfill', {
        province: run.province_code,
        connector: connectorId,
        job: runId,
      });
      const refuse = async (why: string) => {
        log.warn({ err: why }, 'backfill run cannot be carried on; marked failed');
        await setBackfillStatus(this.db, runId, 'failed', why);
        return 'failed' as const;
      };
      if (!row || row.state === 'removed') return refuse(`connector ${connectorId} is no longer registered`);
      const policy = sourcePolicyOf(row.config);
      let connector;
      try {
        connector = createConnector({
          id: row.id,
          sourceProvinceCode: row.province_code,
          sourceCodeSet: row.code_set as CodeSet,
          kind: row.kind,
          config: row.config,
          // The gate its polls use: one rate limit in Redis per connector, for polls and backfill together.
          gate: new RedisRequestGate(
            this.redis,
            this.options.prefix,
            row.id,
            policy.rateLimit,
            policy.requestTimeoutMs + 5000,
          ),
        });
      } catch (error) {
        // A stored definition this release cannot build: said once, on the run, rather than tried every few seconds.
        return refuse(error instanceof Error ? error.message : String(error));
      }
      if (!canReadWindow(connector))
        return refuse(`connector ${connectorId} (kind ${row.kind}) can no longer read its source by time window`);
      const guard = new SourceGuard(row.id, policy.breaker, policy.retry, (state) =>
        log.warn({ breaker: state }, `circuit breaker of connector ${row.id} is now ${state}`),
      );
      log.info(
        { windowsDone: run.windows_done, windows: run.windows_total, startedBy: run.started_by },
        'backfill run carried on by this process',
      );
      try {
        const end: BackfillEnd = await runBackfill({
          runId,
          connector,
          connectorId,
          sourceProvinceCode: row.province_code,
          sourceCodeSet: row.code_set as CodeSet,
          range: { from: run.range_from, to: run.range_to, windowHours: run.window_hours },
          committed: { windowsDone: run.windows_done, position: run.position as Json | null },
          sink: this.sink,
          readPage: (window, state, signal) =>
            guard.readWith(() => connector.readWindow(window, state, signal), signal),
          reload: async () => {
            const stored = await findBackfillRun(this.db, runId);
            return {
              status: stored?.status ?? 'cancelled',
              progress: { windowsDone: stored?.windows_done ?? 0, position: (stored?.position ?? null) as Json | null },
            };
          },
          signal: this.stopping.signal,
          metrics: this.options.metrics,
        });
        log.info({ end }, `backfill run ${end === 'interrupted' ? 'left resumable' : end}`);
        return end;
      } catch (error) {
        // A source failing past its retries, or a batch the writer did not commit: failed, resumable by hand.
        const message = error instanceof Error ? error.message : String(error);
        log.warn({ err: message }, 'backfill run failed; start it again with its range to resume');
        await setBackfillStatus(this.db, runId, 'failed', message.slice(0, 2000));
        return 'failed' as const;
      } finally {
        guard.shutdown();
      }
    });
    if (!locked) taken(false);
  }
}
