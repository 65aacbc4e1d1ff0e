import type { Kysely } from 'kysely';
import { currentProvinces } from '../../config/provinces.js';
import { connectorsByProvince } from '../../db/queries/province-connectors.js';
import { refreshProvinceStats, type ProvinceRefresh } from '../../db/queries/refresh-province-stats.js';
import type { Database } from '../../db/schema.js';
import { BackgroundErrorReporter, type BackgroundErrors, type ErrorSource } from '../background-error-reporter.js';
import type { Logger } from '../logger.js';

/** Options of the stats refresher. */
export interface StatsRefresherOptions {
  /** Time from the end of one pass over the provinces to the start of the next. Default 60000 ms. */
  intervalMs?: number;
  /** Where a failed refresh is told. Default: logged through `logger`, rate-limited, not counted. */
  errors?: BackgroundErrors;
}

/** What a pass over the provinces should refresh. */
export interface RefreshPassOptions {
  /** Only these current provinces. Default: all 34. */
  provinceCodes?: readonly string[];
  /** Recompute provinces that did not change too. Default false. */
  force?: boolean;
}

const refreshFailed: ErrorSource = {
  component: 'scheduler',
  kind: 'stats_refresh',
  level: 'warn',
  message: "could not refresh a province's statistics; its figures stay as they were until the next pass",
};

/**
 * Refreshes every province's statistics whose dossiers changed, one province at a time, then waits `intervalMs`
 * and goes again. Several scheduler processes may run it: each province's refresh takes a lock, and a process
 * that finds it taken moves on; each process walks the provinces in its own order so they share the work.
 */
export class StatsRefresher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly errors: BackgroundErrors;
  private readonly intervalMs: number;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly logger: Logger,
    options: StatsRefresherOptions = {},
  ) {
    this.errors = options.errors ?? new BackgroundErrorReporter(logger);
    this.intervalMs = options.intervalMs ?? 60_000;
  }

  /** Starts the first pass now, in the background, and the next ones `intervalMs` after each. */
  start(): void {
    const pass = () => {
      this.running = this.refresh({ order: 'shuffled' }).finally(() => {
        if (!this.closed) this.timer = setTimeout(pass, this.intervalMs);
      });
    };
    pass();
  }

  /**
   * One pass: refreshes each province that changed (or every one, with `force`) and says what it did. Never throws
   * for one province's failure: it is told, and the pass goes on.
   */
  async refresh(options: RefreshPassOptions & { order?: 'catalogue' | 'shuffled' } = {}): Promise<ProvinceRefresh[]> {
    const wanted = options.provinceCodes ?? currentProvinces.map(({ code }) => code);
    const codes = options.order === 'shuffled' ? shuffle(wanted) : [...wanted];
    const results: ProvinceRefresh[] = [];
    let connectors;
    try {
      connectors = await connectorsByProvince(this.db);
    } catch (error) {
      this.errors.report(refreshFailed, error);
      return results;
    }
    for (const provinceCode of codes) {
      if (this.closed) break;
      try {
        const connectorIds = (connectors.get(provinceCode) ?? []).map(({ id }) => id);
        const result = await refreshProvinceStats(this.db, provinceCode, { connectorIds, force: options.force });
        results.push(result);
        if (result.outcome === 'refreshed')
          this.logger.debug(
            { province: provinceCode, durationMs: result.durationMs, dossiers: result.dossiers, rows: result.rows },
            'province statistics refreshed',
          );
      } catch (error) {
        this.errors.report(refreshFailed, error, { province: provinceCode });
      }
    }
    return results;
  }

  /** Stops after the province being refreshed, if any. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}

function shuffle<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
