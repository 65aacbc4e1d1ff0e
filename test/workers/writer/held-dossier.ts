import { sql, type Kysely } from 'kysely';
import { upsertDossiers } from '../../../db/queries/upsert-dossiers.js';
import type { Database } from '../../../db/schema.js';
import { dossierRecord } from '../../support/records.js';

/**
 * Holds an uncommitted insert of one dossier, so that every writer transaction storing it waits where a test can
 * see it (`writersWaiting`) until `release`; `done` settles once the holding transaction has committed.
 */
export async function holdDossier(
  db: Kysely<Database>,
  provinceCode: string,
  dossierCode: string,
): Promise<{ release: () => void; done: Promise<void> }> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let inserted!: () => void;
  const lockTaken = new Promise<void>((resolve) => (inserted = resolve));
  const done = db.transaction().execute(async (trx) => {
    await upsertDossiers(trx, [
      dossierRecord({ provinceCode, sourceProvinceCode: provinceCode, dossierCode, sourceVersion: 1 }),
    ]);
    inserted();
    await held;
  });
  await lockTaken;
  return { release, done };
}

/** Writer transactions of this database waiting on a lock. */
export async function writersWaiting(db: Kysely<Database>): Promise<number> {
  const { rows } = await sql<{ waiting: number }>`
    SELECT count(*)::int AS waiting FROM pg_stat_activity
    WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%json_to_recordset%'`.execute(db);
  return rows[0]!.waiting;
}
