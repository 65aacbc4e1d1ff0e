import { sql, type Kysely } from 'kysely';

/**
 * `dossier_anomalies` is distributed with `dossiers` on `province_code` under Citus (docs/scaling.md), and Citus
 * refuses a distributed table whose primary key lacks the distribution column: its key becomes
 * (province_code, id). `id` stays unique on its own (bigserial), and every query reads it as before. The table is
 * small (one row per anomaly seen), so rebuilding the key holds its lock only briefly.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE dossier_anomalies
      DROP CONSTRAINT dossier_anomalies_pkey,
      ADD CONSTRAINT dossier_anomalies_pkey PRIMARY KEY (province_code, id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE dossier_anomalies
      DROP CONSTRAINT dossier_anomalies_pkey,
      ADD CONSTRAINT dossier_anomalies_pkey PRIMARY KEY (id)`.execute(db);
}
