import { sql, type Kysely } from 'kysely';
import { currentProvinces } from '../../config/provinces.js';

/**
 * The first schema. `dossiers` and `dossier_events` are partitioned by list of the current province code so one
 * province's load, vacuum and backfill stay in its own partition (DESIGN.md, "Storage").
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE connectors (
      id               text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
      province_code    text NOT NULL,
      code_set         text NOT NULL CHECK (code_set IN ('2025', '2008')),
      kind             text NOT NULL,
      config           jsonb NOT NULL,
      poll_interval_ms integer NOT NULL CHECK (poll_interval_ms > 0),
      state            text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'removed')),
      created_at       timestamptz NOT NULL DEFAULT now(),
      updated_at       timestamptz NOT NULL DEFAULT now(),
      last_success_at  timestamptz,
      last_error_at    timestamptz,
      last_error       text
    )`.execute(db);

  await sql`
    CREATE TABLE sync_cursors (
      connector_id      text PRIMARY KEY REFERENCES connectors (id),
      position          jsonb NOT NULL,
      records_committed bigint NOT NULL DEFAULT 0,
      updated_at        timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  await sql`
    CREATE TABLE dossiers (
      province_code        text NOT NULL,
      dossier_code         text NOT NULL,
      alt_dossier_code     text,
      source_province_code text NOT NULL,
      source_code_set      text NOT NULL,
      procedure_code       text,
      sector_code          text,
      agency_code          text,
      channel              smallint,
      applicant_type       smallint,
      status               smallint NOT NULL CHECK (status BETWEEN 1 AND 10),
      source_status        text NOT NULL,
      submitted_at         timestamptz,
      received_at          timestamptz,
      due_at               timestamptz,
      finished_at          timestamptz,
      returned_at          timestamptz,
      rejected_at          timestamptz,
      source_updated_at    timestamptz NOT NULL,
      source_version       bigint NOT NULL,
      content_hash         text NOT NULL,
      observed_at          timestamptz NOT NULL,
      connector_id         text NOT NULL,
      synced_at            timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (province_code, dossier_code)
    ) PARTITION BY LIST (province_code)`.execute(db);

  await sql`
    CREATE TABLE dossier_events (
      province_code     text NOT NULL,
      dossier_code      text NOT NULL,
      source_version    bigint NOT NULL,
      content_hash      text NOT NULL,
      status            smallint NOT NULL,
      source_status     text NOT NULL,
      due_at            timestamptz,
      finished_at       timestamptz,
      source_updated_at timestamptz NOT NULL,
      observed_at       timestamptz NOT NULL,
      connector_id      text NOT NULL,
      recorded_at       timestamptz NOT NULL DEFAULT now(),
      -- Guarantee 2: the history never holds the same state twice.
      PRIMARY KEY (province_code, dossier_code, source_version, content_hash)
    ) PARTITION BY LIST (province_code)`.execute(db);

  for (const { code } of currentProvinces) {
    await sql`CREATE TABLE ${sql.table(`dossiers_p${code}`)} PARTITION OF dossiers FOR VALUES IN (${sql.lit(code)})`.execute(
      db,
    );
    await sql`CREATE TABLE ${sql.table(`dossier_events_p${code}`)} PARTITION OF dossier_events FOR VALUES IN (${sql.lit(code)})`.execute(
      db,
    );
  }

  await sql`
    CREATE TABLE dead_letters (
      id            bigserial PRIMARY KEY,
      connector_id  text NOT NULL,
      province_code text,
      dossier_code  text,
      reason        text NOT NULL,
      message       text NOT NULL,
      -- Hash of reason and payload: a record re-read by a look-back or a retried batch is kept once.
      fingerprint   text NOT NULL,
      raw_payload   text NOT NULL,
      received_at   timestamptz NOT NULL,
      created_at    timestamptz NOT NULL DEFAULT now(),
      state         text NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'replayed', 'discarded')),
      UNIQUE (connector_id, fingerprint)
    )`.execute(db);
  await sql`CREATE INDEX dead_letters_by_connector ON dead_letters (connector_id, created_at)`.execute(db);
  await sql`CREATE INDEX dead_letters_by_reason ON dead_letters (reason, created_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['dead_letters', 'dossier_events', 'dossiers', 'sync_cursors', 'connectors']) {
    await sql`DROP TABLE IF EXISTS ${sql.table(table)}`.execute(db);
  }
}
