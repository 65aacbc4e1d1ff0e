import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, FailedBatchesTable } from '../schema.js';

/** A kept failed batch. */
export type FailedBatchRow = Selectable<FailedBatchesTable>;
/** A failed batch as listed: everything but the batch itself. */
export type FailedBatchSummary = Omit<FailedBatchRow, 'batch'>;

/** Which failed batches an operation is about; every field narrows, none means all. */
export interface FailedBatchFilter {
  /** Only these ids. */
  ids?: readonly string[];
  connectorId?: string;
  /** Only batches of these connectors (a province key's); empty: none. */
  connectorIds?: readonly string[];
  provinceCode?: string;
  origin?: 'poll' | 'push';
  /** Failed (last) at or after. */
  since?: Date;
  /** Failed (last) before. */
  until?: Date;
  /** Default `failed`: the batches waiting for a retry or a discard. */
  state?: FailedBatchRow['state'] | 'all';
}

function filtered(db: Kysely<Database>, filter: FailedBatchFilter) {
  let query = db.selectFrom('failed_batches');
  if (filter.ids) query = query.where('id', 'in', filter.ids.length > 0 ? [...filter.ids] : ['0']);
  if (filter.connectorIds)
    query =
      filter.connectorIds.length > 0
        ? query.where('connector_id', 'in', [...filter.connectorIds])
        : query.where(sql<boolean>`false`);
  if (filter.connectorId) query = query.where('connector_id', '=', filter.connectorId);
  if (filter.provinceCode) query = query.where('province_code', '=', filter.provinceCode);
  if (filter.origin) query = query.where('origin', '=', filter.origin);
  if (filter.since) query = query.where('failed_at', '>=', filter.since);
  if (filter.until) query = query.where('failed_at', '<', filter.until);
  const state = filter.state ?? 'failed';
  if (state !== 'all') query = query.where('state', '=', state);
  return query;
}

const summaryColumns = [
  'id',
  'province_code',
  'connector_id',
  'origin',
  'records',
  'dead_letters',
  'error',
  'attempts',
  'failures',
  'fingerprint',
  'last_job',
  'first_failed_at',
  'failed_at',
  'state',
  'state_changed_at',
] as const;

/** Failed batches matching a filter, oldest first, after `afterId` (keyset pages), without the batches themselves. */
export async function listFailedBatches(
  db: Kysely<Database>,
  filter: FailedBatchFilter,
  page: { afterId?: string; limit: number },
): Promise<FailedBatchSummary[]> {
  return filtered(db, filter)
    .select(summaryColumns)
    .$if(page.afterId !== undefined, (query) => query.where('id', '>', page.afterId!))
    .orderBy('id')
    .limit(page.limit)
    .execute();
}

/** How many failed batches match, by province. */
export async function countFailedBatches(
  db: Kysely<Database>,
  filter: FailedBatchFilter,
): Promise<{ provinceCode: string; count: number }[]> {
  const rows = await filtered(db, filter)
    .select(['province_code', sql<string>`count(*)`.as('count')])
    .groupBy('province_code')
    .orderBy('province_code')
    .execute();
  return rows.map((row) => ({ provinceCode: row.province_code, count: Number(row.count) }));
}

/** One failed batch with the batch itself, or undefined. */
export async function findFailedBatch(db: Kysely<Database>, id: string): Promise<FailedBatchRow | undefined> {
  return db.selectFrom('failed_batches').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Marks batches retried or discarded (they are kept). Only batches still `failed` change; returns those that did,
 * with their connector.
 */
export async function markFailedBatches(
  db: Kysely<Database>,
  ids: readonly string[],
  state: 'retried' | 'discarded',
): Promise<{ id: string; connectorId: string }[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .updateTable('failed_batches')
    .set({ state, state_changed_at: sql<Date>`now()` })
    .where('id', 'in', [...ids])
    .where('state', '=', 'failed')
    .returning(['id', 'connector_id'])
    .execute();
  return rows.map((row) => ({ id: String(row.id), connectorId: row.connector_id }));
}
