import type { Kysely } from 'kysely';
import type { Config } from '../../config/env.js';
import { listConnectors } from '../../db/queries/connectors.js';
import { connectorsToReconcile, latestReconcileStarts } from '../../db/queries/reconcile-runs.js';
import type { Database } from '../../db/schema.js';
import type { BackgroundErrorReporter } from '../background-error-reporter.js';
import type { Logger } from '../logger.js';
import type { FleetMetrics } from '../metrics.js';
import type { createRedis } from '../redis.js';
import { ReconcileSession } from './reconcile-session.js';

/** What the reconciler role needs. */
export interface ReconcilerRoleOptions {
  config: Config;
  db: Kysely<Database>;
  redis: ReturnType<typeof createRedis>;
  logger: Logger;
  errors: BackgroundErrorReporter;
  /** The process's metrics: each run is observed once (stage reconcile). */
  metrics?: Pick<FleetMetrics, 'operationDuration'>;
  /** The wait between passes. Default 5 s. */
  intervalMs?: number;
}

/** A connector's definition's `schedule.reconcileEveryHours`, if it has one. */
export function reconcileEveryHoursOf(definition: unknown): number | null {
  const hours = (definition as { schedule?: { reconcileEveryHours?: unknown } } | null)?.schedule?.reconcileEveryHours;
  return typeof hours === 'number' && hours > 0 ? hours : null;
}

/**
 * The reconciler role: every pass, runs the reconciles asked for over HTTP (`POST /v1/admin/connectors/{id}/reconcile`)
 * and those of a process that died mid-run, then the connectors whose definition's `schedule.reconcileEveryHours`
 * has passed since their last run (over the default range, the last 30 days). One run at a time in a process; a
 * connector another process is reconciling is left to it (its lock).
 */
export class ReconcilerRole {
  private readonly session: ReconcileSession;
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<void> | null = null;

  constructor(private readonly options: ReconcilerRoleOptions) {
    this.session = new ReconcileSession(options);
  }

  start(): void {
    const next = () => {
      if (this.stopping.signal.aborted) return;
      this.timer = setTimeout(() => {
        this.pass = this.runPass().finally(next);
      }, this.options.intervalMs ?? 5000);
    };
    this.pass = this.runPass().finally(next);
  }

  async close(): Promise<void> {
    this.stopping.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.pass?.catch(() => {});
  }

  private async runPass(): Promise<void> {
    const { db, logger } = this.options;
    try {
      const asked = new Set(await connectorsToReconcile(db));
      const latest = await latestReconcileStarts(db);
      const due: string[] = [];
      for (const row of await listConnectors(db)) {
        if (row.state !== 'active' || asked.has(row.id)) continue;
        const hours = reconcileEveryHoursOf(row.definition);
        const last = latest.get(row.id);
        if (hours !== null && (!last || Date.now() - last.getTime() >= hours * 3_600_000)) due.push(row.id);
      }
      for (const connectorId of [...asked, ...due]) {
        if (this.stopping.signal.aborted) return;
        await this.reconcile(connectorId);
      }
    } catch (error) {
      logger.error({ err: error instanceof Error ? error.message : String(error) }, 'reconciler pass failed');
    }
  }

  private async reconcile(connectorId: string): Promise<void> {
    const { logger } = this.options;
    try {
      const checked = await this.session.check({ connectorId });
      // The run's own lines (started, its end) are the session's, bound to its province, connector and run.
      await this.session.run(checked, 'schedule', { signal: this.stopping.signal });
    } catch (error) {
      logger.warn(
        { connector: connectorId, err: error instanceof Error ? error.message : String(error) },
        `reconcile of connector ${connectorId} did not run`,
      );
    }
  }
}
