import { sql, type Kysely } from 'kysely';

/**
 * Reconcile runs (issue #13): one row per `fleet reconcile` of a connector over a range of source update times,
 * compared bucket by bucket — a bucket is one Vietnam calendar day of source update time (README,
 * Reconciliation). `buckets_done` is the resume position: a run killed mid-bucket compares that bucket again.
 * What a run found is kept dossier by dossier in `reconcile_mismatches`, one row per run and dossier (a dossier
 * seen twice — in the bucket it left and the bucket it moved to — is counted once), so the run's counts are
 * counted from what is stored and survive any kill; a mismatch is repaired when the stored copy holds the
 * source's (version, status), as checked in SQL after the writer committed the repair.
 *
 * `dossiers_by_update_time` lets our side of a bucket be summarised by an index-only scan; its cost to the writer
 * is one more index entry per inserted or updated dossier.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE reconcile_runs (
      id               bigserial PRIMARY KEY,
      connector_id     text NOT NULL,
      -- The connector's current (2025) province: what a province's key is scoped to.
      province_code    text NOT NULL,
      range_from       timestamptz NOT NULL,
      range_to         timestamptz NOT NULL CHECK (range_to > range_from),
      -- How the source was compared: summaries (digest or listing) or page by page (readWindow).
      method           text NOT NULL CHECK (method IN ('digest', 'listing', 'pages')),
      buckets_total    integer NOT NULL CHECK (buckets_total > 0),
      -- Buckets finished (compared and repaired): where a resumed run carries on.
      buckets_done     integer NOT NULL DEFAULT 0 CHECK (buckets_done BETWEEN 0 AND buckets_total),
      -- Buckets whose summaries differed, scopes compared in drilling down, requests to the source, records read.
      buckets_differing integer NOT NULL DEFAULT 0,
      scopes_compared  bigint NOT NULL DEFAULT 0,
      requests_made    bigint NOT NULL DEFAULT 0,
      records_fetched  bigint NOT NULL DEFAULT 0,
      -- Mismatches by kind and repaired: counted from reconcile_mismatches.
      missing_here     bigint NOT NULL DEFAULT 0,
      extra_here       bigint NOT NULL DEFAULT 0,
      different_version bigint NOT NULL DEFAULT 0,
      different_state  bigint NOT NULL DEFAULT 0,
      repaired         bigint NOT NULL DEFAULT 0,
      -- requested: asked for over HTTP, waiting for a reconciler process to take it.
      status           text NOT NULL DEFAULT 'running' CHECK (status IN ('requested', 'running', 'failed', 'done', 'cancelled')),
      -- Who started it: cli:<os user>, the key's id and name, or schedule.
      started_by       text NOT NULL,
      started_at       timestamptz NOT NULL DEFAULT now(),
      updated_at       timestamptz NOT NULL DEFAULT now(),
      finished_at      timestamptz,
      -- Seconds spent running, summed over the processes that carried it.
      run_seconds      double precision NOT NULL DEFAULT 0,
      error            text
    )`.execute(db);
  await sql`
    CREATE UNIQUE INDEX reconcile_runs_one_unfinished ON reconcile_runs (connector_id)
    WHERE status IN ('requested', 'running', 'failed')`.execute(db);
  await sql`CREATE INDEX reconcile_runs_connector ON reconcile_runs (connector_id, id)`.execute(db);
  await sql`
    CREATE TABLE reconcile_mismatches (
      run_id          bigint NOT NULL REFERENCES reconcile_runs (id) ON DELETE CASCADE,
      province_code   text NOT NULL,
      dossier_code    text NOT NULL,
      kind            text NOT NULL CHECK (kind IN ('missing_here', 'extra_here', 'different_version', 'different_state')),
      -- What we stored and what the source has (NULL where one side has nothing).
      stored_version  bigint,
      stored_status   smallint,
      source_version  bigint,
      source_status   smallint,
      -- Whether the source's state is to be written (not for extra_here, nor a version that went backwards).
      repairable      boolean NOT NULL,
      -- extra_here seen without a fetch by code: it may be met later in the run in another bucket.
      provisional     boolean NOT NULL DEFAULT false,
      repaired        boolean NOT NULL DEFAULT false,
      PRIMARY KEY (run_id, dossier_code)
    )`.execute(db);
  await sql`
    CREATE INDEX IF NOT EXISTS dossiers_by_update_time ON dossiers (province_code, source_updated_at)
    INCLUDE (dossier_code, source_version, status)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX IF EXISTS dossiers_by_update_time`.execute(db);
  await sql`DROP TABLE IF EXISTS reconcile_mismatches`.execute(db);
  await sql`DROP TABLE IF EXISTS reconcile_runs`.execute(db);
}
