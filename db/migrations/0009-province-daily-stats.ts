import { sql, type Kysely } from 'kysely';

/**
 * The figures the national service-quality index scores a province on, kept as daily aggregates so a stats request
 * reads a few hundred small rows instead of scanning `dossiers`. The stats refresher (workers/read-model/
 * stats-refresher.ts) recomputes a province's rows on a schedule, only when its dossiers changed; nothing is added to
 * the writer's transaction. Days are calendar days in Vietnam (Asia/Ho_Chi_Minh), as domain.md compares them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // By day of receipt (received_*) and by day of finish (finished and the standings): one row per province and day.
  await sql`
    CREATE TABLE province_daily_stats (
      province_code      text NOT NULL,
      day                date NOT NULL,
      -- Dossiers received that day (received_at), all channels and by channel (1 in person, 2 online, 3 post).
      received           integer NOT NULL DEFAULT 0,
      received_in_person integer NOT NULL DEFAULT 0,
      received_online    integer NOT NULL DEFAULT 0,
      received_by_post   integer NOT NULL DEFAULT 0,
      -- Dossiers finished (status 9, 10) that day: finished_at, else returned_at, else the source's last update.
      finished           integer NOT NULL DEFAULT 0,
      -- Their deadline standing (workers/read-model/deadline-standing.ts), as it is ...
      early              integer NOT NULL DEFAULT 0,
      on_time            integer NOT NULL DEFAULT 0,
      late               integer NOT NULL DEFAULT 0,
      -- ... and with the time waiting on the applicant (statuses 5, 6 in the history) taken out.
      net_early          integer NOT NULL DEFAULT 0,
      net_on_time        integer NOT NULL DEFAULT 0,
      net_late           integer NOT NULL DEFAULT 0,
      PRIMARY KEY (province_code, day)
    )`.execute(db);

  // The current snapshot: dossiers by status and channel (0: the source gave none).
  await sql`
    CREATE TABLE province_status_counts (
      province_code text NOT NULL,
      status        smallint NOT NULL,
      channel       smallint NOT NULL,
      count         integer NOT NULL,
      PRIMARY KEY (province_code, status, channel)
    )`.execute(db);

  // Dossiers in progress (2, 4, 5, 6) by due day. "Overdue in progress" is the sum over due days before today, taken
  // when asked: it stays right as days pass without any write.
  await sql`
    CREATE TABLE province_in_progress_due (
      province_code text NOT NULL,
      due_day       date NOT NULL,
      count         integer NOT NULL,
      PRIMARY KEY (province_code, due_day)
    )`.execute(db);

  // Source update → central write lag of the history's states (recorded_at − source_updated_at), by day of
  // recorded_at: a histogram with the fixed bucket bounds of workers/read-model/lag-histogram.ts, so days merge by
  // adding counts. Append-only input: only days from the last refresh's on are recomputed.
  await sql`
    CREATE TABLE connector_daily_lag (
      province_code text NOT NULL,
      connector_id  text NOT NULL,
      day           date NOT NULL,
      buckets       integer[] NOT NULL,
      count         integer NOT NULL,
      sum_seconds   double precision NOT NULL,
      max_seconds   double precision NOT NULL,
      PRIMARY KEY (province_code, connector_id, day)
    )`.execute(db);

  // Dead letters by connector, reason and day of created_at, whatever became of them since (replayed, discarded).
  await sql`
    CREATE TABLE connector_daily_dead_letters (
      connector_id text NOT NULL,
      day          date NOT NULL,
      reason       text NOT NULL,
      count        integer NOT NULL,
      PRIMARY KEY (connector_id, day, reason)
    )`.execute(db);

  // Each dossier's time waiting on the applicant (statuses 5, 6), from its history (waitingTime in
  // deadline-standing.ts): the states that ended, and the start of the last one if it still waits (it lasts until the
  // dossier's finish). The history is append-only, so only dossiers with new states are recomputed.
  await sql`
    CREATE TABLE dossier_waiting_time (
      province_code text NOT NULL,
      dossier_code  text NOT NULL,
      waited        interval NOT NULL,
      waiting_since timestamptz,
      PRIMARY KEY (province_code, dossier_code)
    )`.execute(db);

  await sql`
    CREATE TABLE stats_refresh (
      province_code text PRIMARY KEY,
      -- When the figures were computed (the refresh transaction's start), and when a refresh last found nothing
      -- changed since: the figures hold every change committed before the later of the two.
      refreshed_at  timestamptz NOT NULL,
      checked_at    timestamptz NOT NULL,
      -- The change horizon (db/queries/change-horizon.ts) the last refresh or check saw: every dossier, history state
      -- and dead letter not yet counted has a synced_at / recorded_at / created_at at or after it.
      watermark     timestamptz NOT NULL,
      duration_ms   integer NOT NULL,
      -- Dossiers counted, and aggregate rows written, by the last refresh.
      dossiers      integer NOT NULL,
      rows          integer NOT NULL
    )`.execute(db);

  // The lag refresh reads the states recorded since the last refresh's day. The history is append-only and
  // recorded_at is the writing transaction's now(), so the table's physical order follows recorded_at: a BRIN index
  // (a few pages for millions of rows, next to nothing per insert for the writer, unlike a B-tree) narrows the read to
  // the last few block ranges.
  await sql`
    CREATE INDEX dossier_events_recorded_at ON dossier_events USING brin (recorded_at) WITH (autosummarize = on)
  `.execute(db);
  // The waiting time is taken from the history of the dossiers that ever waited on the applicant: this finds them
  // (all of them on a province's first refresh, and whether a dossier with new states is one) without reading the
  // whole history. Partial, so the writer pays only for states 5 and 6, a small share.
  await sql`
    CREATE INDEX dossier_events_waiting ON dossier_events (province_code, dossier_code) WHERE status IN (5, 6)
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX IF EXISTS dossier_events_waiting`.execute(db);
  await sql`DROP INDEX IF EXISTS dossier_events_recorded_at`.execute(db);
  for (const table of [
    'stats_refresh',
    'dossier_waiting_time',
    'connector_daily_dead_letters',
    'connector_daily_lag',
    'province_in_progress_due',
    'province_status_counts',
    'province_daily_stats',
  ]) {
    await sql`DROP TABLE IF EXISTS ${sql.table(table)}`.execute(db);
  }
}
