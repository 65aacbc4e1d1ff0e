import { sql, type Kysely } from 'kysely';

/**
 * Backfill runs (issue #13): one row per `fleet backfill` of a connector over a range of source update times, read
 * window by window. The progress (`windows_done`, and `position` inside the current window) moves only in the
 * writer's transaction that stores the records it covers, from the progress the page was read after (as a
 * connector's cursor does), so a run killed at any point resumes from exactly what is stored: nothing is lost,
 * and a page re-read is not counted again. One unfinished run per connector: the partial unique index.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE backfill_runs (
      id            bigserial PRIMARY KEY,
      connector_id  text NOT NULL,
      -- The connector's current (2025) province: what a province's key is scoped to.
      province_code text NOT NULL,
      range_from    timestamptz NOT NULL,
      range_to      timestamptz NOT NULL CHECK (range_to > range_from),
      window_hours  integer NOT NULL CHECK (window_hours > 0),
      windows_total integer NOT NULL CHECK (windows_total > 0),
      windows_done  integer NOT NULL DEFAULT 0 CHECK (windows_done BETWEEN 0 AND windows_total),
      -- Where the next page of window number windows_done is read from: the connector's read state; NULL: its start.
      position      jsonb,
      records       bigint NOT NULL DEFAULT 0,
      dead_letters  bigint NOT NULL DEFAULT 0,
      status        text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'failed', 'done', 'cancelled')),
      -- Who started it: cli:<os user>, or the key's id and name.
      started_by    text NOT NULL,
      started_at    timestamptz NOT NULL DEFAULT now(),
      updated_at    timestamptz NOT NULL DEFAULT now(),
      finished_at   timestamptz,
      -- The last failure (a source error): never a secret nor a record's value.
      error         text
    )`.execute(db);
  await sql`
    CREATE UNIQUE INDEX backfill_runs_one_unfinished ON backfill_runs (connector_id)
    WHERE status IN ('running', 'failed')`.execute(db);
  await sql`CREATE INDEX backfill_runs_connector ON backfill_runs (connector_id, id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS backfill_runs`.execute(db);
}
