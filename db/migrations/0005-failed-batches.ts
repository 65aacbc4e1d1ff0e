import { sql, type Kysely } from 'kysely';

/**
 * Ingest batches the writer gave up on — a data error its isolation of refused records could not get round, or
 * every retry spent — moved out of BullMQ's failed set, where nothing lists them and Redis (`noeviction`) fills
 * with them. Kept until an operator retries or discards them (`fleet failed-batch`), then kept, marked.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE failed_batches (
      id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      -- The current province whose queue the batch was in.
      province_code    text NOT NULL,
      connector_id     text NOT NULL,
      origin           text NOT NULL CHECK (origin IN ('poll', 'push')),
      -- The batch as queued, as JSON text: its dead letters may carry text jsonb refuses (NUL), kept as sent.
      batch            text NOT NULL,
      records          integer NOT NULL,
      dead_letters     integer NOT NULL,
      -- The writer's last error (SQLSTATE and description for a data error; never a refused value).
      error            text NOT NULL,
      -- Attempts of the last job that failed, and how many jobs of this same batch failed (a poll page read
      -- again run after run is one row, counted, not one row per run).
      attempts         integer NOT NULL,
      failures         integer NOT NULL DEFAULT 1,
      -- Hash of what the batch would store (not when it was read): the same batch failing again finds its row.
      fingerprint      text NOT NULL,
      -- The queue job last moved here (queue, id, creation time), so a job moved twice counts once.
      last_job         text NOT NULL,
      first_failed_at  timestamptz NOT NULL DEFAULT now(),
      failed_at        timestamptz NOT NULL,
      state            text NOT NULL DEFAULT 'failed' CHECK (state IN ('failed', 'retried', 'discarded')),
      state_changed_at timestamptz
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX failed_batches_one_waiting ON failed_batches (fingerprint) WHERE state = 'failed'`.execute(
    db,
  );
  await sql`CREATE INDEX failed_batches_by_province ON failed_batches (province_code, state, failed_at)`.execute(db);
  await sql`CREATE INDEX failed_batches_by_connector ON failed_batches (connector_id, failed_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS failed_batches`.execute(db);
}
