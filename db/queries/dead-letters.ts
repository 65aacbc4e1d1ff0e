import { sql, type Kysely, type Selectable } from 'kysely';
import type { DeadLettersTable, Database } from '../schema.js';

/** A kept dead letter. */
export type DeadLetterRow = Selectable<DeadLettersTable>;

/** Which dead letters an operation is about; every field narrows, none means all. */
export interface DeadLetterFilter {
  /** Only these letters. */
  ids?: readonly string[];
  connectorId?: string;
  /** Only letters of these connectors (a province key's); empty: none. */
  connectorIds?: readonly string[];
  provinceCode?: string;
  reason?: string;
  /** Received at or after. */
  since?: Date;
  /** Received before. */
  until?: Date;
  /** Default `new`: the letters still waiting for a fix. */
  state?: DeadLetterRow['state'] | 'all';
}

function filtered(db: Kysely<Database>, filter: DeadLetterFilter) {
  let query = db.selectFrom('dead_letters');
  // An empty list selects nothing (`IN ()` is not SQL).
  if (filter.ids)
    query = filter.ids.length > 0 ? query.where('id', 'in', filter.ids) : query.where(sql<boolean>`false`);
  if (filter.connectorIds)
    query =
      filter.connectorIds.length > 0
        ? query.where('connector_id', 'in', filter.connectorIds)
        : query.where(sql<boolean>`false`);
  if (filter.connectorId) query = query.where('connector_id', '=', filter.connectorId);
  if (filter.provinceCode) query = query.where('province_code', '=', filter.provinceCode);
  if (filter.reason) query = query.where('reason', '=', filter.reason);
  if (filter.since) query = query.where('received_at', '>=', filter.since);
  if (filter.until) query = query.where('received_at', '<', filter.until);
  const state = filter.state ?? 'new';
  if (state !== 'all') query = query.where('state', '=', state);
  return query;
}

/** Dead letters matching a filter, oldest first, after `afterId` (keyset pages). */
export async function listDeadLetters(
  db: Kysely<Database>,
  filter: DeadLetterFilter,
  page: { afterId?: string; limit: number },
): Promise<DeadLetterRow[]> {
  return filtered(db, filter)
    .selectAll()
    .$if(page.afterId !== undefined, (query) => query.where('id', '>', page.afterId!))
    .orderBy('id')
    .limit(page.limit)
    .execute();
}

/** How many dead letters match, by reason. */
export async function countDeadLetters(
  db: Kysely<Database>,
  filter: DeadLetterFilter,
): Promise<{ reason: string; count: number }[]> {
  const rows = await filtered(db, filter)
    .select(['reason', sql<string>`count(*)`.as('count')])
    .groupBy('reason')
    .orderBy('reason')
    .execute();
  return rows.map((row) => ({ reason: row.reason, count: Number(row.count) }));
}

/**
 * How many dead letters match, by province (the current code the letter was kept under; `unknown` for a letter kept
 * without one) and reason: the dead-letter gauge's figures.
 */
export async function countDeadLettersByProvince(
  db: Kysely<Database>,
  filter: DeadLetterFilter,
): Promise<{ provinceCode: string; reason: string; count: number }[]> {
  const rows = await filtered(db, filter)
    .select([
      sql<string>`coalesce(province_code, 'unknown')`.as('province_code'),
      'reason',
      sql<string>`count(*)`.as('count'),
    ])
    .groupBy([sql`coalesce(province_code, 'unknown')`, 'reason'])
    .orderBy('province_code')
    .orderBy('reason')
    .execute();
  return rows.map((row) => ({ provinceCode: row.province_code, reason: row.reason, count: Number(row.count) }));
}

/** One dead letter, or undefined. */
export async function findDeadLetter(db: Kysely<Database>, id: string): Promise<DeadLetterRow | undefined> {
  return db.selectFrom('dead_letters').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Marks letters as replayed or discarded (they are kept). Only letters still `new` change; returns how many did. */
export async function markDeadLetters(
  db: Kysely<Database>,
  ids: readonly string[],
  state: 'replayed' | 'discarded',
): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db
    .updateTable('dead_letters')
    .set({ state })
    .where('id', 'in', ids)
    .where('state', '=', 'new')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Marks every `new` letter matching a filter as discarded; returns how many. */
export async function discardDeadLetters(db: Kysely<Database>, filter: DeadLetterFilter): Promise<number> {
  return (await discardDeadLettersByConnector(db, filter)).reduce((sum, { count }) => sum + count, 0);
}

/** Marks every `new` letter matching a filter as discarded; returns how many of each connector's. */
export async function discardDeadLettersByConnector(
  db: Kysely<Database>,
  filter: DeadLetterFilter,
): Promise<{ connectorId: string; count: number }[]> {
  const ids = filtered(db, { ...filter, state: 'new' }).select('id');
  const { rows } = await sql<{ connector_id: string; count: string }>`
    WITH discarded AS (
      UPDATE dead_letters SET state = 'discarded' WHERE id IN (${ids}) RETURNING connector_id
    )
    SELECT connector_id, count(*) AS count FROM discarded GROUP BY connector_id ORDER BY connector_id`.execute(db);
  return rows.map((row) => ({ connectorId: row.connector_id, count: Number(row.count) }));
}

/** A letter that still fails after a replay keeps its place, with the reason and message of the new attempt. */
export async function updateDeadLetterReasons(
  db: Kysely<Database>,
  failures: readonly { id: string; reason: string; message: string }[],
): Promise<void> {
  if (failures.length === 0) return;
  await sql`
    UPDATE dead_letters d SET reason = f.reason, message = f.message
    FROM jsonb_to_recordset(${JSON.stringify(failures)}::jsonb) AS f(id bigint, reason text, message text)
    WHERE d.id = f.id`.execute(db);
}
