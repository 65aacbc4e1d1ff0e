import { sql, type Kysely, type Selectable } from 'kysely';
import type { BackfillRunsTable, Database } from '../schema.js';

/** A backfill run as stored. */
export type BackfillRunRow = Selectable<BackfillRunsTable>;

/** What a new backfill run is: its connector, range, window step and who starts it. */
export interface NewBackfillRun {
  connectorId: string;
  provinceCode: string;
  from: Date;
  to: Date;
  windowHours: number;
  windowsTotal: number;
  startedBy: string;
}

/** Records a new run, or returns null when the connector has an unfinished one (the partial unique index). */
export async function insertBackfillRun(db: Kysely<Database>, run: NewBackfillRun): Promise<BackfillRunRow | null> {
  const row = await db
    .insertInto('backfill_runs')
    .values({
      connector_id: run.connectorId,
      province_code: run.provinceCode,
      range_from: run.from,
      range_to: run.to,
      window_hours: run.windowHours,
      windows_total: run.windowsTotal,
      started_by: run.startedBy,
    })
    .onConflict((oc) => oc.column('connector_id').where('status', 'in', ['running', 'failed']).doNothing())
    .returningAll()
    .executeTakeFirst();
  return row ?? null;
}

/** The connector's unfinished run (running, or stopped by a failure), if any. */
export async function findUnfinishedBackfill(
  db: Kysely<Database>,
  connectorId: string,
): Promise<BackfillRunRow | undefined> {
  return db
    .selectFrom('backfill_runs')
    .selectAll()
    .where('connector_id', '=', connectorId)
    .where('status', 'in', ['running', 'failed'])
    .executeTakeFirst();
}

/** One run by id. */
export async function findBackfillRun(db: Kysely<Database>, id: string): Promise<BackfillRunRow | undefined> {
  return db.selectFrom('backfill_runs').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Runs newest first, of one connector or of all, of the given current provinces (null: every one), at most `limit`. */
export async function listBackfillRuns(
  db: Kysely<Database>,
  filter: { connectorId?: string; provinces?: readonly string[] | null; limit: number },
): Promise<BackfillRunRow[]> {
  let query = db.selectFrom('backfill_runs').selectAll();
  if (filter.connectorId) query = query.where('connector_id', '=', filter.connectorId);
  if (filter.provinces) {
    if (filter.provinces.length === 0) return [];
    query = query.where('province_code', 'in', filter.provinces);
  }
  return query.orderBy('id', 'desc').limit(filter.limit).execute();
}

/** Marks a run failed with its error (resumable), or running again when it is resumed. */
export async function setBackfillStatus(
  db: Kysely<Database>,
  id: string,
  status: 'running' | 'failed' | 'cancelled',
  error: string | null = null,
): Promise<void> {
  await db
    .updateTable('backfill_runs')
    .set({
      status,
      error,
      updated_at: sql<Date>`now()`,
      ...(status === 'cancelled' ? { finished_at: sql<Date>`now()` } : {}),
    })
    .where('id', '=', id)
    .where('status', 'in', ['running', 'failed'])
    .execute();
}

/**
 * Holds the connector's backfill lock for the life of `work`, on one connection of its own: a session advisory
 * lock, so a process killed mid-run frees it with its connection, and a second process finds it taken. Returns
 * null (without running `work`) when another session holds it.
 */
export async function withBackfillLock<T>(
  db: Kysely<Database>,
  connectorId: string,
  work: () => Promise<T>,
): Promise<{ value: T } | null> {
  return db.connection().execute(async (connection) => {
    const key = sql`hashtextextended(${`backfill:${connectorId}`}, 0)`;
    const { rows } = await sql<{ taken: boolean }>`SELECT pg_try_advisory_lock(${key}) AS taken`.execute(connection);
    if (!rows[0]?.taken) return null;
    try {
      return { value: await work() };
    } finally {
      await sql`SELECT pg_advisory_unlock(${key})`.execute(connection);
    }
  });
}
