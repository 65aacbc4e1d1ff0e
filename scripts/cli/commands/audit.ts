import type { Config } from '../../../config/env.js';
import { listAuditEvents } from '../../../db/queries/audit-events.js';
import { auditListView } from '../../../workers/control-plane/audit.js';
import { UsageError } from '../cli-errors.js';
import { formatTable, formatTime, withDatabase } from '../cli-output.js';
import { printView, type OutputFormat } from '../output-format.js';

// `fleet audit list`: the audit trail, as `GET /v1/admin/audit` returns it to a national key.

/** The most events one list shows: a longer history is read in pages, by `--since` or the API's cursor. */
export const maxAuditLimit = 1000;

/** `fleet audit list [--connector ID] [--since ISO] [--limit N] [-o json]`: changes oldest first. */
export async function auditList(
  config: Config,
  options: { connector?: string; since?: string; limit: number; output?: OutputFormat },
): Promise<void> {
  const since = options.since === undefined ? undefined : new Date(options.since);
  if (since !== undefined && Number.isNaN(since.getTime()))
    throw new UsageError(
      `fleet audit list: --since ${JSON.stringify(options.since)} is not a time; expected ISO 8601 such as 2026-11-27 or 2026-11-27T08:00:00+07:00`,
    );
  if (options.limit > maxAuditLimit)
    throw new UsageError(`fleet audit list: --limit ${options.limit}: expected at most ${maxAuditLimit}`);
  await withDatabase(config, async (db) => {
    // The CLI runs with the fleet's database role: it sees every province.
    const rows = await listAuditEvents(
      db,
      { connectorId: options.connector, since, provinces: null },
      { limit: options.limit },
    );
    printView(auditListView(rows, options.limit), options.output, (view) =>
      view.events.length === 0
        ? 'no changes recorded match'
        : [
            formatTable(
              ['ID', 'AT', 'WHO', 'ACTION', 'CONNECTOR', 'PROVINCE', 'KEY', 'DEFINITION', 'DETAILS'],
              view.events.map((event) => [
                event.id,
                formatTime(event.at),
                event.actor.kind === 'cli' ? `cli:${event.actor.id}` : `key ${event.actor.id} (${event.actor.name})`,
                event.action,
                event.connectorId ?? '-',
                event.provinceCode ?? '-',
                event.apiKeyId ?? '-',
                event.definitionHashAfter === null
                  ? '-'
                  : `${event.definitionHashBefore?.slice(0, 12) ?? 'none'} → ${event.definitionHashAfter.slice(0, 12)}`,
                Object.keys(event.details).length === 0 ? '-' : JSON.stringify(event.details),
              ]),
            ),
            ...(view.nextCursor ? [`… more after ${view.nextCursor} (use --limit or --since)`] : []),
          ],
    );
  });
}
