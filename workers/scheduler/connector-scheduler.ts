import { Queue } from 'bullmq';
import type { RedisConnection } from '../redis.js';
import { settleReadiness } from '../queue/settle-readiness.js';
import type { Kysely } from 'kysely';
import { isPolled } from '../../connectors/plugins.js';
import { listConnectors, type ConnectorRow } from '../../db/queries/connectors.js';
import type { Database } from '../../db/schema.js';
import { BackgroundErrorReporter, type BackgroundErrors, type ErrorSource } from '../background-error-reporter.js';
import type { Logger } from '../logger.js';
import { connectorSettings } from '../control-plane/connector-registry.js';
import { queueNames, type PollJob } from '../queue/queues.js';

/** Options of the scheduler. */
export interface SchedulerOptions {
  /** Redis key prefix of the queues. */
  prefix: string;
  /** How often the job schedulers are brought in line with the connectors in Postgres. Default 5000 ms. */
  refreshMs?: number;
  /**
   * Where failures of the background refresh and of the queue's connection are told. Default: logged through `logger`,
   * rate-limited, not counted.
   */
  errors?: BackgroundErrors;
}

const queueError: ErrorSource = {
  component: 'scheduler',
  kind: 'queue',
  message: 'poll queue error in the scheduler; schedules are brought in line once Redis answers',
};
const refreshFailed: ErrorSource = {
  component: 'scheduler',
  kind: 'refresh',
  level: 'warn',
  message: 'could not refresh connector schedules; will retry',
};

/**
 * Keeps one BullMQ job scheduler per active connector that can be polled, in line with the `connectors` table:
 * a connector added, paused, resumed or removed takes effect within one refresh, and schedulers lost with
 * Redis's data come back on their own. A connector whose system only pushes gets none.
 */
export class ConnectorScheduler {
  /** The poll queue, for depth metrics. */
  readonly queue: Queue<PollJob>;
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> = Promise.resolve();
  private readonly errors: BackgroundErrors;
  /** Whether each connector is polled, as of its definition's last change: asked once per definition. */
  private readonly polled = new Map<string, { updatedAt: number; polled: boolean }>();

  constructor(
    private readonly db: Kysely<Database>,
    connection: RedisConnection,
    logger: Logger,
    private readonly options: SchedulerOptions,
  ) {
    this.errors = options.errors ?? new BackgroundErrorReporter(logger);
    this.queue = new Queue<PollJob>(queueNames.poll, { connection, prefix: options.prefix });
    // Connection errors are retried by the connection; an unheard 'error' event would crash the process.
    this.queue.on('error', (error) => this.errors.report(queueError, error, { queue: queueNames.poll }));
  }

  /** Starts refreshing; the first refresh is done when this resolves. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      this.refreshing = this.refresh().catch((error: unknown) => this.errors.report(refreshFailed, error));
    }, this.options.refreshMs ?? 5_000);
  }

  /** Brings the job schedulers in line with the registered connectors. */
  async refresh(): Promise<void> {
    const connectors = await listConnectors(this.db);
    const active = new Set<string>();
    for (const connector of connectors) {
      if (connector.state !== 'active' || !this.isScheduled(connector)) continue;
      active.add(connector.id);
      await this.queue.upsertJobScheduler(
        connector.id,
        { every: connector.poll_interval_ms },
        {
          name: 'poll',
          data: { connectorId: connector.id },
          opts: { removeOnComplete: true, removeOnFail: { count: 100 } },
        },
      );
    }
    for (const scheduler of await this.queue.getJobSchedulers()) {
      if (scheduler.key && !active.has(scheduler.key)) await this.queue.removeJobScheduler(scheduler.key);
    }
  }

  /** Whether the connector gets a poll schedule: not when its system only pushes. */
  private isScheduled(row: ConnectorRow): boolean {
    const updatedAt = row.updated_at.getTime();
    const known = this.polled.get(row.id);
    if (known?.updatedAt === updatedAt) return known.polled;
    const polled = isPolled(connectorSettings(row));
    this.polled.set(row.id, { updatedAt, polled });
    return polled;
  }

  /** Stops refreshing (the schedulers stay in Redis: polling continues under another scheduler process). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.refreshing;
    await settleReadiness([this.queue]);
    await this.queue.close();
  }
}
