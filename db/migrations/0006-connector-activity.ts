import { sql, type Kysely } from 'kysely';

/**
 * What a connector is doing, for `fleet connector status`: its current (or last) poll run as the poller
 * publishes it, page by page, and the pushes the writer committed for it. One row per connector, written at most
 * once per page or push batch (coalesced: one statement in flight per process), never inside the transaction of
 * a batch.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE connector_activity (
      -- No foreign key: a batch of a connector not (or no longer) registered is written all the same.
      connector_id           text PRIMARY KEY,
      -- The poller's clock for the run's times: its rate is read from one clock.
      run_id                 text,
      run_started_at         timestamptz,
      run_last_page_at       timestamptz,
      run_ended_at           timestamptz,
      run_outcome            text CHECK (run_outcome IN ('running', 'caught_up', 'continued', 'failed', 'interrupted')),
      run_pages              integer NOT NULL DEFAULT 0,
      run_records            integer NOT NULL DEFAULT 0,
      run_dead_letters       integer NOT NULL DEFAULT 0,
      -- When the gateway received the newest pushed update committed, when it was committed, and how many were.
      push_last_received_at  timestamptz,
      push_last_committed_at timestamptz,
      push_updates           bigint NOT NULL DEFAULT 0
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS connector_activity`.execute(db);
}
