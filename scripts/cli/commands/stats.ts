import type { Config } from '../../../config/env.js';
import { currentProvince, currentProvinces } from '../../../config/provinces.js';
import { connectorsByProvince } from '../../../db/queries/province-connectors.js';
import { refreshProvinceStats, type ProvinceRefresh } from '../../../db/queries/refresh-province-stats.js';
import { UsageError } from '../cli-errors.js';
import { formatTable, withDatabase } from '../cli-output.js';
import { printView, type OutputFormat } from '../output-format.js';

// `fleet stats refresh`: what the scheduler's stats refresher does every STATS_REFRESH_INTERVAL_MS, once, now.

/** What `fleet stats refresh -o json` prints. */
export interface StatsRefreshView {
  provinces: {
    provinceCode: string;
    outcome: ProvinceRefresh['outcome'];
    durationMs: number;
    dossiers: number | null;
    rows: number | null;
  }[];
  refreshed: number;
  durationMs: number;
}

/**
 * `fleet stats refresh [--province CODE] [--force]`: recomputes the statistics of every province that changed since
 * its last refresh (or one province; `--force` even unchanged), one at a time, and prints what it did and how long
 * each took. A province another process is refreshing is `busy`, and skipped.
 */
export async function statsRefresh(
  config: Config,
  options: { province?: string; force?: boolean; output?: OutputFormat },
): Promise<void> {
  if (options.province !== undefined && !currentProvince(options.province))
    throw new UsageError(
      `fleet stats refresh: --province ${JSON.stringify(options.province)} is not a current province code; expected one of the 34 codes of 2025, e.g. 01 or 79`,
    );
  const codes = options.province !== undefined ? [options.province] : currentProvinces.map(({ code }) => code);
  const started = Date.now();
  const results = await withDatabase(config, async (db) => {
    const connectors = await connectorsByProvince(db);
    const done: ProvinceRefresh[] = [];
    for (const provinceCode of codes) {
      const connectorIds = (connectors.get(provinceCode) ?? []).map(({ id }) => id);
      done.push(await refreshProvinceStats(db, provinceCode, { connectorIds, force: options.force }));
    }
    return done;
  });
  const view: StatsRefreshView = {
    provinces: results.map((result) => ({
      provinceCode: result.provinceCode,
      outcome: result.outcome,
      durationMs: result.durationMs,
      dossiers: result.outcome === 'refreshed' ? result.dossiers : null,
      rows: result.outcome === 'refreshed' ? result.rows : null,
    })),
    refreshed: results.filter((result) => result.outcome === 'refreshed').length,
    durationMs: Date.now() - started,
  };
  printView(view, options.output, () => [
    formatTable(
      ['PROVINCE', 'OUTCOME', 'DOSSIERS', 'ROWS', 'MS'],
      view.provinces.map((row) => [
        row.provinceCode,
        row.outcome,
        row.dossiers === null ? '-' : String(row.dossiers),
        row.rows === null ? '-' : String(row.rows),
        String(row.durationMs),
      ]),
    ),
    `refreshed ${view.refreshed} of ${view.provinces.length} provinces in ${view.durationMs} ms`,
  ]);
}
