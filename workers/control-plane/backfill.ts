import type { Kysely } from 'kysely';
import { canRead, type Connector } from '../../connectors/sdk/connector.js';
import { currentProvinceCode, type CodeSet } from '../../config/provinces.js';
import { insertAuditEvent } from '../../db/queries/audit-events.js';
import {
  findUnfinishedBackfill,
  insertBackfillRun,
  setBackfillStatus,
  type BackfillRunRow,
} from '../../db/queries/backfill-runs.js';
import { findConnector, type ConnectorRow } from '../../db/queries/connectors.js';
import type { BackfillStatus, Database } from '../../db/schema.js';
import { canReadWindow, windowCount, type WindowReadableConnector } from '../backfill/backfill-run.js';
import { actorColumns, type Actor } from './audit.js';
import { isoTime } from './view-time.js';

// Starting and resuming a backfill, for `fleet backfill`: what is checked before anything is stored, and the one
// unfinished run per connector.

/** The window step when neither the command nor the definition gives one: a day. */
export const defaultBackfillWindowHours = 24;

/** Why a backfill was refused: no such connector, or a request that cannot be backfilled as asked. */
export class BackfillRefusedError extends Error {
  override readonly name = 'BackfillRefusedError';
  constructor(
    message: string,
    /** `not_found`: no such connector; `bad_input`: the range, or a connector that cannot be read by window. */
    readonly reason: 'not_found' | 'bad_input',
  ) {
    super(message);
  }
}

/** What `fleet backfill` asks for. */
export interface BackfillRequest {
  connectorId: string;
  from: Date;
  to: Date;
  /** Overrides the definition's window step. */
  windowHours?: number;
}

/**
 * The window step of a connector: its definition's `backfill.windowHours`, else the declarative definition's own
 * windows (`incremental.windowHours`: a source that refuses longer ranges), else a day.
 */
export function backfillWindowHoursOf(row: ConnectorRow): number {
  const definition = row.definition as { backfill?: { windowHours?: unknown } } | null;
  if (typeof definition?.backfill?.windowHours === 'number') return definition.backfill.windowHours;
  const config = row.config as { incremental?: { windowHours?: unknown } } | null;
  if (row.kind === 'declarative' && typeof config?.incremental?.windowHours === 'number')
    return config.incremental.windowHours;
  return defaultBackfillWindowHours;
}

/** A checked request: the connector and its window reader, the range and its window step. */
export interface CheckedBackfill {
  row: ConnectorRow;
  connector: WindowReadableConnector;
  provinceCode: string;
  from: Date;
  to: Date;
  windowHours: number;
  windowsTotal: number;
}

/**
 * Checks a request before anything is stored: a range that is not empty, a registered connector (not removed),
 * whose source can be read (not push-only) by time window (`readWindow`). `build` makes the connector from its row
 * (with the request gate its polls use).
 */
export async function checkBackfill(
  db: Kysely<Database>,
  request: BackfillRequest,
  build: (row: ConnectorRow) => Connector,
): Promise<CheckedBackfill> {
  const { connectorId, from, to } = request;
  if (from.getTime() >= to.getTime())
    throw new BackfillRefusedError(
      `fleet backfill: --from ${from.toISOString()} is not before --to ${to.toISOString()}; expected a range [from, to) of source update times`,
      'bad_input',
    );
  const row = await findConnector(db, connectorId);
  if (!row || row.state === 'removed')
    throw new BackfillRefusedError(`fleet backfill: no connector ${connectorId} is registered`, 'not_found');
  const connector = build(row);
  if (!canRead(connector))
    throw new BackfillRefusedError(
      `fleet backfill: connector ${connectorId} only pushes (its definition has no http, request and records), so it has no history to read; its system's own re-send is the way to fill a gap`,
      'bad_input',
    );
  if (!canReadWindow(connector))
    throw new BackfillRefusedError(
      `fleet backfill: connector ${connectorId} (kind ${row.kind}) cannot read its source by time window: ${row.kind === 'declarative' ? 'its definition has no {{windowStart}} and {{windowEnd}} in the request (incremental.windowHours)' : 'its system serves only "updated since"'}; nothing to backfill with`,
      'bad_input',
    );
  const windowHours = request.windowHours ?? backfillWindowHoursOf(row);
  return {
    row,
    connector,
    provinceCode: currentProvinceCode(row.province_code, row.code_set as CodeSet),
    from,
    to,
    windowHours,
    windowsTotal: windowCount({ from, to, windowHours }),
  };
}

/** The run a backfill is carried by: a new one, or the connector's unfinished one of the same range, resumed. */
export interface OpenedBackfill {
  run: BackfillRunRow;
  resumed: boolean;
}

/** A run in one line: connector, range, window step, windows done, status, who started it and when. */
export const describeRun = (run: BackfillRunRow) =>
  `backfill run ${run.id} of connector ${run.connector_id} (${isoTime(run.range_from)} to ${isoTime(run.range_to)}, ${run.window_hours} h windows, ${run.windows_done}/${run.windows_total} done, ${run.status}, started by ${run.started_by} at ${isoTime(run.started_at)})`;

/**
 * Opens the run of a checked request, with the connector's backfill lock held (`withBackfillLock`): the connector's
 * unfinished run is resumed when it is of the same range and window step, and refused otherwise, naming it; else a
 * new run is recorded. Either way the start is recorded in the audit trail, in the same transaction.
 */
export async function openBackfill(
  db: Kysely<Database>,
  checked: CheckedBackfill,
  actor: Actor,
): Promise<OpenedBackfill> {
  const startedBy = actor.kind === 'cli' ? `cli:${actor.user}` : `key ${actor.id} (${actor.name})`;
  return db.transaction().execute(async (trx) => {
    const unfinished = await findUnfinishedBackfill(trx, checked.row.id);
    let opened: OpenedBackfill;
    if (unfinished) {
      const same =
        unfinished.range_from.getTime() === checked.from.getTime() &&
        unfinished.range_to.getTime() === checked.to.getTime() &&
        unfinished.window_hours === checked.windowHours;
      if (!same)
        throw new BackfillRefusedError(
          `fleet backfill: connector ${checked.row.id} has an unfinished ${describeRun(unfinished)}; run fleet backfill again with its range and window step to resume it, or fleet backfill --cancel --connector ${checked.row.id} to give it up`,
          'bad_input',
        );
      await setBackfillStatus(trx, unfinished.id, 'running');
      opened = { run: { ...unfinished, status: 'running', error: null }, resumed: true };
    } else {
      const run = await insertBackfillRun(trx, {
        connectorId: checked.row.id,
        provinceCode: checked.provinceCode,
        from: checked.from,
        to: checked.to,
        windowHours: checked.windowHours,
        windowsTotal: checked.windowsTotal,
        startedBy,
      });
      if (!run) throw new Error(`connector ${checked.row.id}: a backfill run was opened at the same time; try again`);
      opened = { run, resumed: false };
    }
    await insertAuditEvent(trx, {
      ...actorColumns(actor),
      action: opened.resumed ? 'backfill.resume' : 'backfill.start',
      connector_id: checked.row.id,
      province_code: checked.provinceCode,
      details: {
        run: opened.run.id,
        from: isoTime(checked.from),
        to: isoTime(checked.to),
        windowHours: checked.windowHours,
        windows: checked.windowsTotal,
      },
    });
    return opened;
  });
}

/**
 * Cancels an unfinished run (running or failed) and records it in the audit trail, in one transaction; null when the
 * run is no longer unfinished. A process carrying the run stops after the page in hand: its next batch moves nothing
 * (the writer moves only a running run's progress), what is stored stays.
 */
export async function cancelBackfill(
  db: Kysely<Database>,
  run: BackfillRunRow,
  actor: Actor,
): Promise<BackfillRunRow | null> {
  return db.transaction().execute(async (trx) => {
    const cancelled = await trx
      .updateTable('backfill_runs')
      .set({ status: 'cancelled', error: null, updated_at: new Date(), finished_at: new Date() })
      .where('id', '=', run.id)
      .where('status', 'in', ['running', 'failed'])
      .returningAll()
      .executeTakeFirst();
    if (!cancelled) return null;
    await insertAuditEvent(trx, {
      ...actorColumns(actor),
      action: 'backfill.cancel',
      connector_id: cancelled.connector_id,
      province_code: cancelled.province_code,
      details: { run: cancelled.id, windowsDone: cancelled.windows_done, windows: cancelled.windows_total },
    });
    return cancelled;
  });
}

/** The message for a connector whose backfill runs in another process now. */
export async function busyMessage(db: Kysely<Database>, connectorId: string): Promise<string> {
  const running = await findUnfinishedBackfill(db, connectorId);
  return `fleet backfill: connector ${connectorId} is being backfilled by another process now${running ? `: ${describeRun(running)}` : ''}; one backfill runs per connector at a time — wait for it, or stop it (Ctrl-C, kill) and run this again to resume it`;
}

/** A backfill run as `fleet backfill --status -o json` prints it. */
export interface BackfillRunView {
  id: string;
  connectorId: string;
  provinceCode: string;
  from: string;
  to: string;
  windowHours: number;
  windowsDone: number;
  windowsTotal: number;
  records: number;
  deadLetters: number;
  status: BackfillStatus;
  startedBy: string;
  startedAt: string;
  updatedAt: string;
  finishedAt: string | null;
  error: string | null;
}

/** The view of a backfill run row. */
export function backfillRunView(row: BackfillRunRow): BackfillRunView {
  return {
    id: String(row.id),
    connectorId: row.connector_id,
    provinceCode: row.province_code,
    from: isoTime(row.range_from)!,
    to: isoTime(row.range_to)!,
    windowHours: row.window_hours,
    windowsDone: row.windows_done,
    windowsTotal: row.windows_total,
    records: Number(row.records),
    deadLetters: Number(row.dead_letters),
    status: row.status,
    startedBy: row.started_by,
    startedAt: isoTime(row.started_at)!,
    updatedAt: isoTime(row.updated_at)!,
    finishedAt: isoTime(row.finished_at),
    error: row.error,
  };
}
