import type { Kysely } from 'kysely';
import type { Connector } from '../../connectors/sdk/connector.js';
import { currentProvinceCode, type CodeSet } from '../../config/provinces.js';
import { insertAuditEvent } from '../../db/queries/audit-events.js';
import { findConnector, type ConnectorRow } from '../../db/queries/connectors.js';
import {
  findUnfinishedReconcile,
  insertReconcileRun,
  setReconcileStatus,
  type ReconcileRunRow,
} from '../../db/queries/reconcile-runs.js';
import type { Database, ReconcileMethod, ReconcileStatus } from '../../db/schema.js';
import { bucketCount } from '../reconciler/reconcile-buckets.js';
import { actorColumns, type Actor } from './audit.js';
import { isoTime } from './view-time.js';

// Starting and resuming a reconcile, for `fleet reconcile`, the reconciler role and the admin API: what is checked
// before anything is stored, and the one unfinished run per connector.

/** The range a reconcile covers when none is given: the last 30 days up to now. */
export const defaultReconcileDays = 30;

/** Why a reconcile was refused: no such connector, or one that cannot be reconciled as asked. */
export class ReconcileRefusedError extends Error {
  override readonly name = 'ReconcileRefusedError';
  constructor(
    message: string,
    readonly reason: 'not_found' | 'bad_input',
  ) {
    super(message);
  }
}

/** What a reconcile asks for. */
export interface ReconcileRequest {
  connectorId: string;
  from?: Date;
  to?: Date;
}

/** A checked request: the connector, how its source is compared, and the range. */
export interface CheckedReconcile {
  row: ConnectorRow;
  connector: Connector;
  provinceCode: string;
  method: ReconcileMethod;
  from: Date;
  to: Date;
  bucketsTotal: number;
}

/**
 * How a connector's source is compared: by digests (a summary answering a count and a hash, read page by page
 * once narrowed), by listings, or page by page without summaries. `summaryKind` says what the definition's
 * summary answers; absent: the connector's own (national-rest answers digests).
 */
export function reconcileMethodOf(row: ConnectorRow, connector: Connector): ReconcileMethod | null {
  // Many scopes at once are asked for digests first, listings at the leaves (breadth-first).
  if (typeof connector.summariseMany === 'function') return 'digest';
  if (typeof connector.summarise === 'function') {
    const config = row.config as { reconcile?: { summary?: { listing?: unknown } } } | null;
    return row.kind === 'declarative' && config?.reconcile?.summary?.listing !== undefined ? 'listing' : 'digest';
  }
  return typeof connector.readWindow === 'function' ? 'pages' : null;
}

/** Checks a request: a registered connector whose source can be summarised or read by window, a non-empty range. */
export async function checkReconcile(
  db: Kysely<Database>,
  request: ReconcileRequest,
  build: (row: ConnectorRow) => Connector,
  now = new Date(),
): Promise<CheckedReconcile> {
  const to = request.to ?? now;
  const from = request.from ?? new Date(to.getTime() - defaultReconcileDays * 86_400_000);
  if (from.getTime() >= to.getTime())
    throw new ReconcileRefusedError(
      `fleet reconcile: --from ${from.toISOString()} is not before --to ${to.toISOString()}; expected a range [from, to) of source update times`,
      'bad_input',
    );
  const row = await findConnector(db, request.connectorId);
  if (!row || row.state === 'removed')
    throw new ReconcileRefusedError(`fleet reconcile: no connector ${request.connectorId} is registered`, 'not_found');
  const connector = build(row);
  const method = reconcileMethodOf(row, connector);
  if (method === null)
    throw new ReconcileRefusedError(
      `fleet reconcile: connector ${row.id} (kind ${row.kind}) offers no summaries and cannot be read by time window, so there is nothing to compare our copy with`,
      'bad_input',
    );
  return {
    row,
    connector,
    provinceCode: currentProvinceCode(row.province_code, row.code_set as CodeSet),
    method,
    from,
    to,
    bucketsTotal: bucketCount({ from, to }),
  };
}

/** The run a reconcile is carried by: a new one, or the connector's unfinished one, resumed. */
export interface OpenedReconcile {
  run: ReconcileRunRow;
  resumed: boolean;
}

/** The text that names who started a run. */
export function startedByOf(actor: Actor | 'schedule'): string {
  if (actor === 'schedule') return 'schedule';
  return actor.kind === 'cli' ? `cli:${actor.user}` : `key ${actor.id} (${actor.name})`;
}

/**
 * Opens the run of a checked request (with the connector's reconcile lock held): the connector's unfinished run
 * is resumed whatever range was asked (its own range is kept: `--from`/`--to` apply to a new run); else a new one
 * is recorded. A start by hand (a person's CLI or key) is recorded in the audit trail in the same transaction.
 */
export async function openReconcile(
  db: Kysely<Database>,
  checked: CheckedReconcile,
  actor: Actor | 'schedule',
): Promise<OpenedReconcile> {
  return db.transaction().execute(async (trx) => {
    const unfinished = await findUnfinishedReconcile(trx, checked.row.id);
    let opened: OpenedReconcile;
    if (unfinished) {
      await setReconcileStatus(trx, unfinished.id, 'running');
      opened = { run: { ...unfinished, status: 'running', error: null }, resumed: true };
    } else {
      const run = await insertReconcileRun(trx, {
        connectorId: checked.row.id,
        provinceCode: checked.provinceCode,
        from: checked.from,
        to: checked.to,
        method: checked.method,
        bucketsTotal: checked.bucketsTotal,
        startedBy: startedByOf(actor),
      });
      if (!run) throw new Error(`connector ${checked.row.id}: a reconcile run was opened at the same time; try again`);
      opened = { run, resumed: false };
    }
    if (actor !== 'schedule')
      await insertAuditEvent(trx, {
        ...actorColumns(actor),
        action: opened.resumed ? 'reconcile.resume' : 'reconcile.start',
        connector_id: checked.row.id,
        province_code: checked.provinceCode,
        details: {
          run: opened.run.id,
          from: isoTime(opened.run.range_from),
          to: isoTime(opened.run.range_to),
          method: opened.run.method,
          buckets: opened.run.buckets_total,
        },
      });
    return opened;
  });
}

/** A reconcile run as `fleet reconcile --report -o json` and the admin API show it. */
export interface ReconcileRunView {
  id: string;
  connectorId: string;
  provinceCode: string;
  from: string;
  to: string;
  method: ReconcileMethod;
  bucketsDone: number;
  bucketsTotal: number;
  bucketsDiffering: number;
  scopesCompared: number;
  requests: number;
  recordsFetched: number;
  mismatches: { missingHere: number; extraHere: number; differentVersion: number; differentState: number };
  repaired: number;
  status: ReconcileStatus;
  startedBy: string;
  startedAt: string;
  updatedAt: string;
  finishedAt: string | null;
  seconds: number;
  error: string | null;
}

/** The view of a run row. */
export function reconcileRunView(row: ReconcileRunRow): ReconcileRunView {
  return {
    id: String(row.id),
    connectorId: row.connector_id,
    provinceCode: row.province_code,
    from: isoTime(row.range_from)!,
    to: isoTime(row.range_to)!,
    method: row.method,
    bucketsDone: row.buckets_done,
    bucketsTotal: row.buckets_total,
    bucketsDiffering: row.buckets_differing,
    scopesCompared: Number(row.scopes_compared),
    requests: Number(row.requests_made),
    recordsFetched: Number(row.records_fetched),
    mismatches: {
      missingHere: Number(row.missing_here),
      extraHere: Number(row.extra_here),
      differentVersion: Number(row.different_version),
      differentState: Number(row.different_state),
    },
    repaired: Number(row.repaired),
    status: row.status,
    startedBy: row.started_by,
    startedAt: isoTime(row.started_at)!,
    updatedAt: isoTime(row.updated_at)!,
    finishedAt: isoTime(row.finished_at),
    seconds: Math.round(row.run_seconds * 10) / 10,
    error: row.error,
  };
}
