import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Something that can report how many jobs wait in each state of a queue. */
export interface QueueDepthSource {
  readonly name: string;
  /**
   * Its Redis connection (a BullMQ queue's `client`), when it has one: a queue whose connection is down is left out of
   * a scrape.
   */
  readonly client?: Promise<{ status: string }>;
  getJobCounts(...states: string[]): Promise<Record<string, number>>;
  /** Its jobs in the given states, `start`..`end` of their Redis list (BullMQ's Queue.getJobs). */
  getJobs(types: 'waiting'[], start: number, end: number, asc: boolean): Promise<({ timestamp: number } | undefined)[]>;
  /** Workers connected to it (BullMQ's Queue.getWorkersCount). */
  getWorkersCount(): Promise<number>;
}

/** What one scrape learns of a queue. */
interface QueueFigures {
  counts: Record<string, number>;
  /** Seconds since the oldest waiting job was added; 0 when none waits. */
  oldestWaitingSeconds: number;
  workers: number;
}

/**
 * Whether this process is the one to export queue gauges at this scrape: every process sees the same Redis queues,
 * so without one exporter a sum over processes would count each queue once per process.
 */
export type QueueGaugeLease = () => Promise<boolean>;

/** How long a scrape waits for a figure read from Redis before answering without it. */
const scrapeReadLimitMs = 1_000;

/**
 * `read`'s value, or `fallback` once `scrapeReadLimitMs` has passed (or when it fails): with Redis gone, a command
 * sent as it went waits for the reconnection, and /metrics must answer during a Redis outage — that is when the
 * error counters matter. A value that comes later is of no use; a failure of it is the connection's to report.
 */
async function withinScrape<T>(read: Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), scrapeReadLimitMs);
    timer.unref();
  });
  try {
    return await Promise.race([read.catch(() => fallback), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A queue's job counts, or null when its connection is not up or it does not answer in time. */
function figuresOf(queue: QueueDepthSource): Promise<QueueFigures | null> {
  const counts = (async (): Promise<QueueFigures | null> => {
    if (queue.client && (await queue.client).status !== 'ready') return null;
    // The wait list takes new jobs at its head: its last element (index -1, descending) is the oldest.
    const [jobCounts, oldest, workers] = await Promise.all([
      queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized'),
      queue.getJobs(['waiting'], -1, -1, false),
      queue.getWorkersCount(),
    ]);
    const added = oldest[0]?.timestamp;
    return {
      counts: jobCounts,
      oldestWaitingSeconds: added === undefined ? 0 : Math.max(0, Date.now() - added) / 1000,
      workers,
    };
  })();
  return withinScrape(counts, null);
}

/**
 * Every Prometheus metric of one fleet process. Labels are provinces, connectors, outcomes and reasons: never
 * a dossier code or anything personal, so their number stays bounded.
 */
export class FleetMetrics {
  /** The registry `/metrics` serves. */
  readonly registry = new Registry();
  private readonly queues: QueueDepthSource[] = [];

  /** Source records read by pollers. */
  readonly recordsFetched = new Counter({
    name: 'dossier_sync_records_fetched_total',
    help: 'Dossier records read from province systems',
    labelNames: ['province'] as const,
    registers: [this.registry],
  });

  /** Records the writer committed, by what they did to the current state. */
  readonly recordsWritten = new Counter({
    name: 'dossier_sync_records_written_total',
    help: 'Dossier records committed by the writer, by outcome (inserted, updated, unchanged)',
    labelNames: ['province', 'outcome'] as const,
    registers: [this.registry],
  });

  /** Records kept as dead letters, by reason. */
  readonly recordsRejected = new Counter({
    name: 'dossier_sync_records_rejected_total',
    help: 'Dossier records rejected into dead letters, by reason',
    labelNames: ['province', 'reason'] as const,
    registers: [this.registry],
  });

  /** Anomalies the writer recorded in `dossier_anomalies` (issue #13), counted after the commit. */
  readonly anomalies = new Counter({
    name: 'dossier_sync_anomalies_total',
    help: 'Anomalies recorded in dossier_anomalies, by connector and kind (unexpected_transition: applied all the same; version_backwards: not applied), each once however often its batch is delivered',
    labelNames: ['connector', 'kind'] as const,
    registers: [this.registry],
  });

  /** Time to commit one ingest batch. */
  readonly writeBatchDuration = new Histogram({
    name: 'dossier_sync_write_batch_duration_seconds',
    help: 'Time to commit one ingest batch (upsert, history, dead letters, cursor) in one transaction',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  /** Finished poll runs, by outcome. */
  readonly pollRuns = new Counter({
    name: 'dossier_sync_poll_runs_total',
    help: 'Poll runs of a connector, by outcome (caught_up, continued, failed, skipped_busy)',
    labelNames: ['province', 'connector', 'outcome'] as const,
    registers: [this.registry],
  });

  /** Failed ingest batch attempts (retried by the queue). */
  readonly writeFailures = new Counter({
    name: 'dossier_sync_write_failures_total',
    help: 'Ingest batch attempts that failed and were rolled back',
    labelNames: ['province'] as const,
    registers: [this.registry],
  });

  /** Ingest batches given up on and moved to `failed_batches`. */
  readonly batchesFailed = new Counter({
    name: 'dossier_sync_batches_failed_total',
    help: 'Ingest batches the writer gave up on (a data error it could not isolate, or every retry spent), moved from Redis to failed_batches',
    labelNames: ['province'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // /metrics answers anyone who reaches the port: the runtime's exact version would tell a stranger which
    // vulnerabilities to try, and no dashboard needs it.
    this.registry.removeSingleMetric('nodejs_version_info');
    const queues = this.queues;
    const lease = () => this.queueGaugeLease;
    // One read of every queue per scrape, shared by the three queue gauges; the lease's answer bounded as each
    // queue's figures are.
    let pending: Promise<{ queue: string; figures: QueueFigures }[]> | null = null;
    const queueFigures = () => {
      pending ??= (async () => {
        const held = await withinScrape(lease()(), false);
        if (!held) return [];
        const all = await Promise.all(
          queues.map(async (queue) => ({ queue: queue.name.replace(/[{}]/g, ''), figures: await figuresOf(queue) })),
        );
        return all.filter((one): one is { queue: string; figures: QueueFigures } => one.figures !== null);
      })().finally(() => setTimeout(() => (pending = null), 100));
      return pending;
    };
    const queueGauge = (
      name: string,
      help: string,
      labelNames: string[],
      fill: (g: Gauge, queue: string, f: QueueFigures) => void,
    ) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        async collect() {
          const figures = await queueFigures();
          this.reset();
          for (const { queue, figures: f } of figures) fill(this, queue, f);
        },
      });
    queueGauge(
      'dossier_sync_queue_depth',
      'Jobs in each queue, by state; exported by one process of the fleet at a time (the holder of the queue-gauge lease)',
      ['queue', 'state'],
      (g, queue, f) => {
        for (const [state, count] of Object.entries(f.counts)) g.set({ queue, state }, count);
      },
    );
    queueGauge(
      'dossier_sync_queue_oldest_waiting_age_seconds',
      'Seconds since the oldest waiting job of each queue was added (0 when none waits); exported by the lease holder only',
      ['queue'],
      (g, queue, f) => g.set({ queue }, f.oldestWaitingSeconds),
    );
    queueGauge(
      'dossier_sync_queue_workers',
      'Workers connected to each queue, across the fleet (BullMQ worker connections); exported by the lease holder only',
      ['queue'],
      (g, queue, f) => g.set({ queue }, f.workers),
    );
    new Gauge({
      name: 'dossier_sync_queue_gauge_leader',
      help: 'Whether this process exports the queue gauges (1) or leaves them to another process of the fleet (0)',
      registers: [this.registry],
      async collect() {
        this.set(
          (await withinScrape(
            lease()().catch(() => false),
            false,
          ))
            ? 1
            : 0,
        );
      },
    });
  }

  /**
   * Decides at each scrape whether this process exports the queue gauges; by default it always does (a process
   * alone). The fleet sets a Redis lease (QueueGaugeLeader).
   */
  queueGaugeLease: QueueGaugeLease = () => Promise.resolve(true);

  /** Reports this queue's depth, oldest waiting job and workers at each scrape (while this process holds the lease). */
  watchQueue(queue: QueueDepthSource): void {
    if (!this.queues.includes(queue)) this.queues.push(queue);
  }

  /** Each connector's circuit breaker: 0 closed, 1 half-open, 2 open. */
  readonly breakerState = new Gauge({
    name: 'dossier_sync_breaker_state',
    help: 'Circuit breaker of each connector in this poller: 0 closed, 1 half-open, 2 open',
    labelNames: ['province', 'connector'] as const,
    registers: [this.registry],
  });

  /** Reports the dead letters waiting (state new), by province and reason, on every scrape. */
  watchDeadLetters(count: () => Promise<{ provinceCode: string; reason: string; count: number }[]>): void {
    new Gauge({
      name: 'dossier_sync_dead_letters',
      help: 'Dead letters waiting for a fix or a discard (state new), by province (current code) and reason',
      labelNames: ['province', 'reason'] as const,
      registers: [this.registry],
      async collect() {
        // Postgres unavailable: the last figures stay, and the rest of the scrape is still answered.
        const counts = await count().catch(() => null);
        if (!counts) return;
        this.reset();
        for (const { provinceCode, reason, count: n } of counts) this.set({ province: provinceCode, reason }, n);
      },
    });
  }

  /** Reports the failed batches waiting for a retry or a discard (state failed), by province, on every scrape. */
  watchFailedBatches(count: () => Promise<{ provinceCode: string; count: number }[]>): void {
    new Gauge({
      name: 'dossier_sync_failed_batches',
      help: 'Ingest batches in failed_batches waiting for a retry or a discard (fleet failed-batch), by province',
      labelNames: ['province'] as const,
      registers: [this.registry],
      async collect() {
        // Postgres unavailable: the last figures stay, and the rest of the scrape is still answered.
        const counts = await count().catch(() => null);
        if (!counts) return;
        this.reset();
        for (const { provinceCode, count: n } of counts) this.set({ province: provinceCode }, n);
      },
    });
  }

  /**
   * Reports the reconcile runs on every scrape, read from reconcile_runs (a run lives in the process that carries it,
   * `fleet reconcile` or the reconciler role; its figures are Postgres's): runs by outcome, mismatches found by kind
   * and repaired (sums over the runs, which are never deleted, so they only grow), and the time our copy last
   * matched the source (the start of the latest finished run that left nothing repairable unrepaired).
   */
  watchReconcileRuns(
    read: () => Promise<{
      runs: { connectorId: string; outcome: string; count: number }[];
      mismatches: { connectorId: string; kind: string; count: number }[];
      repaired: { connectorId: string; count: number }[];
      lastMatch: { connectorId: string; seconds: number }[];
      lastRun: { connectorId: string; provinceCode: string; compared: number; inSync: number }[];
    }>,
  ): void {
    // One read per scrape, shared by the six metrics.
    let pending: ReturnType<typeof read> | null = null;
    const figures = () => {
      pending ??= read().finally(() => setTimeout(() => (pending = null), 100));
      return pending.catch(() => null);
    };
    const gauge = (
      name: string,
      help: string,
      labelNames: string[],
      fill: (gauge: Gauge, f: Awaited<ReturnType<typeof read>>) => void,
    ) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        async collect() {
          // Postgres unavailable: the last figures stay.
          const f = await figures();
          if (!f) return;
          this.reset();
          fill(this, f);
        },
      });
    gauge(
      'dossier_sync_reconcile_runs',
      'Reconcile runs, by connector and outcome (running, failed, done, cancelled)',
      ['connector', 'outcome'],
      (g, f) => {
        for (const row of f.runs) g.set({ connector: row.connectorId, outcome: row.outcome }, row.count);
      },
    );
    gauge(
      'dossier_sync_reconcile_mismatches',
      'Dossiers reconcile runs found different, by connector and kind (missing_here, extra_here, different_version, different_state)',
      ['connector', 'kind'],
      (g, f) => {
        for (const row of f.mismatches) g.set({ connector: row.connectorId, kind: row.kind }, row.count);
      },
    );
    gauge(
      'dossier_sync_reconcile_repaired',
      'Dossiers reconcile runs repaired (the stored copy now holds the source state), by connector',
      ['connector'],
      (g, f) => {
        for (const row of f.repaired) g.set({ connector: row.connectorId }, row.count);
      },
    );
    gauge(
      'dossier_sync_reconcile_last_match_timestamp_seconds',
      'When our copy of a connector last matched its source: the start of its latest finished reconcile that left nothing repairable unrepaired',
      ['connector'],
      (g, f) => {
        for (const row of f.lastMatch) g.set({ connector: row.connectorId }, row.seconds);
      },
    );
    // The service level "share of a province's dossiers in sync at the last reconcile": in_sync / compared, summed
    // over the province's connectors (recording rule province:dossier_sync_reconcile_in_sync:ratio).
    gauge(
      'dossier_sync_reconcile_last_run_dossiers_compared',
      "Dossiers a connector's latest finished reconcile compared: those its source holds in the range plus those only we hold (extra_here), by province and connector",
      ['province', 'connector'],
      (g, f) => {
        for (const row of f.lastRun) g.set({ province: row.provinceCode, connector: row.connectorId }, row.compared);
      },
    );
    gauge(
      'dossier_sync_reconcile_last_run_dossiers_in_sync',
      "Dossiers a connector's latest finished reconcile found in sync (held by both sides in the same version and status, before its repairs), by province and connector",
      ['province', 'connector'],
      (g, f) => {
        for (const row of f.lastRun) g.set({ province: row.provinceCode, connector: row.connectorId }, row.inSync);
      },
    );
  }

  /**
   * When a connector last synced: a poll run that reached its source and committed (or found nothing new), or a
   * pushed batch committed. Per process; max over the fleet is the connector's.
   */
  readonly connectorLastSync = new Gauge({
    name: 'dossier_sync_connector_last_sync_timestamp_seconds',
    help: 'Unix time of the last successful sync of each connector by this process (a poll run that succeeded, or a pushed batch committed); freshness is time() minus the max over the fleet',
    labelNames: ['province', 'connector'] as const,
    registers: [this.registry],
  });

  /**
   * Live changes (poll or push, not backfill or reconcile repairs): time from the source's update to the commit of
   * the row. Buckets include the service levels' 5 s (push) and 60 s (poll).
   */
  readonly commitLag = new Histogram({
    name: 'dossier_sync_commit_lag_seconds',
    help: 'Live changes: seconds from the source system updating a dossier (sourceUpdatedAt) to the commit of its row, by province and origin (poll, push); 5 and 60 are the service levels',
    labelNames: ['province', 'origin'] as const,
    buckets: [1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600],
    registers: [this.registry],
  });

  /** Rate, errors and duration of every stage: one observation per operation, by stage and outcome. */
  readonly operationDuration = new Histogram({
    name: 'dossier_sync_operation_duration_seconds',
    help: 'Duration of one operation of a stage (poll: a poll run; write: an ingest batch; webhook: a delivery; read_api: a request; reconcile: a reconcile run carried by the reconciler role; backfill: a page a backfill read from the source), by stage and outcome (ok, error)',
    labelNames: ['stage', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  /** Webhook deliveries answered by the gateway, by connector and outcome. */
  readonly webhookDeliveries = new Counter({
    name: 'dossier_sync_webhook_deliveries_total',
    help: 'Webhook deliveries by connector and outcome: accepted, replayed (a retry answered from the ledger), or the problem code (signature_invalid, connector_paused, …)',
    labelNames: ['connector', 'outcome'] as const,
    registers: [this.registry],
  });

  /** Records of accepted webhook deliveries, by what became of them. */
  readonly webhookRecords = new Counter({
    name: 'dossier_sync_webhook_records_total',
    help: 'Records of webhook deliveries: accepted (queued for the writer) or rejected (kept as dead letters)',
    labelNames: ['connector', 'outcome'] as const,
    registers: [this.registry],
  });

  /**
   * Failures no request awaits (connection errors, lock renewals, bookkeeping writes), each also logged (rate-limited).
   */
  readonly backgroundErrors = new Counter({
    name: 'dossier_sync_background_errors_total',
    help: 'Failures no request awaits, by component (redis, postgres, ingest_queue, poller, writer, scheduler, webhooks, readiness, …) and kind (connection, lock_renewal, record_connector_error, …); each is in the log, at most one line per component and kind per 30 s',
    labelNames: ['component', 'kind'] as const,
    registers: [this.registry],
  });

  /** Pushed records: time from the gateway's receipt to the committed row. */
  readonly webhookLatency = new Histogram({
    name: 'dossier_sync_webhook_latency_seconds',
    help: 'Pushed (webhook) records: seconds from receipt by the gateway to the commit of their batch',
    labelNames: ['province'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
}
