import type { Kysely, Selectable, Transaction } from 'kysely';
import type { AnomalyKind, Database, DossierAnomaliesTable } from '../schema.js';

/** An anomaly as stored. */
export type AnomalyRow = Selectable<DossierAnomaliesTable>;

/** One anomaly to record: the dossier, what was seen, and the run that saw it (none: the writer in a batch). */
export interface NewAnomaly {
  provinceCode: string;
  dossierCode: string;
  connectorId: string;
  kind: AnomalyKind;
  fromStatus?: number | null;
  toStatus?: number | null;
  storedVersion?: string | number | bigint | null;
  sourceVersion?: string | number | bigint | null;
  reconcileRunId?: string | number | null;
}

/** Largest number of anomalies inserted per statement (Postgres takes at most 65,535 parameters). */
const rowsPerStatement = 5_000;

/** Records anomalies, in the caller's transaction when given one, a statement per 5,000. */
export async function insertAnomalies(
  db: Kysely<Database> | Transaction<Database>,
  anomalies: readonly NewAnomaly[],
): Promise<void> {
  for (let start = 0; start < anomalies.length; start += rowsPerStatement) {
    const chunk = anomalies.slice(start, start + rowsPerStatement);
    await db
      .insertInto('dossier_anomalies')
      .values(
        chunk.map((anomaly) => ({
          province_code: anomaly.provinceCode,
          dossier_code: anomaly.dossierCode,
          connector_id: anomaly.connectorId,
          kind: anomaly.kind,
          from_status: anomaly.fromStatus ?? null,
          to_status: anomaly.toStatus ?? null,
          stored_version: anomaly.storedVersion ?? null,
          source_version: anomaly.sourceVersion ?? null,
          reconcile_run_id: anomaly.reconcileRunId ?? null,
        })),
      )
      .execute();
  }
}

/** Which anomalies to list: newest first, optionally of some connectors or provinces only. */
export interface AnomalyFilter {
  connectorId?: string;
  /** Current province codes a key holds; undefined: every province. */
  provinceCodes?: readonly string[];
  kind?: AnomalyKind;
  /** At most this many (default 100). */
  limit?: number;
}

/** Recent anomalies, newest first. */
export async function listAnomalies(db: Kysely<Database>, filter: AnomalyFilter = {}): Promise<AnomalyRow[]> {
  let query = db.selectFrom('dossier_anomalies').selectAll();
  if (filter.connectorId !== undefined) query = query.where('connector_id', '=', filter.connectorId);
  if (filter.provinceCodes !== undefined) query = query.where('province_code', 'in', [...filter.provinceCodes, '']);
  if (filter.kind !== undefined) query = query.where('kind', '=', filter.kind);
  return query
    .orderBy('id', 'desc')
    .limit(filter.limit ?? 100)
    .execute();
}

/** Anomalies counted by connector and kind (for `fleet reconcile --report`). */
export async function countAnomalies(
  db: Kysely<Database>,
  filter: Pick<AnomalyFilter, 'connectorId' | 'provinceCodes'> = {},
): Promise<{ connectorId: string; kind: AnomalyKind; count: number }[]> {
  let query = db
    .selectFrom('dossier_anomalies')
    .select(['connector_id', 'kind', (eb) => eb.fn.countAll<string>().as('count')])
    .groupBy(['connector_id', 'kind']);
  if (filter.connectorId !== undefined) query = query.where('connector_id', '=', filter.connectorId);
  if (filter.provinceCodes !== undefined) query = query.where('province_code', 'in', [...filter.provinceCodes, '']);
  const rows = await query.orderBy('connector_id').orderBy('kind').execute();
  return rows.map((row) => ({ connectorId: row.connector_id, kind: row.kind, count: Number(row.count) }));
}
