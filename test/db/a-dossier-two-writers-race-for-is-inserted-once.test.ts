import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from 'kysely';
import { upsertDossiers } from '../../db/queries/upsert-dossiers.js';
import { createTestEnvironment, waitFor, type TestEnvironment } from '../support/test-environment.js';
import { dossierRecord } from '../support/records.js';

// Two batches in flight can carry one new dossier (a poller keeps several pages in flight; a status that moves
// between them puts the dossier in both), and two writers may commit them at once. Both statements' snapshots
// see no row; the second waits on the first's insert and then updates the row. It must count an update, not a
// second insert: the writers' inserted counters summed over processes equal the dossiers stored.

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => env.cleanup());

it('counts the racing second writer as an update of the row the first inserted', async () => {
  const first = dossierRecord({ sourceVersion: 1, status: 2 });
  const second = dossierRecord({ sourceVersion: 2, status: 4, sourceStatus: '4', observedAt: '2026-11-27T00:00:01Z' });
  let secondOutcome: Promise<Awaited<ReturnType<typeof upsertDossiers>>> | undefined;
  const firstOutcome = await env.db.transaction().execute(async (trx) => {
    const outcome = await upsertDossiers(trx, [first]);
    // The second writer's statement starts while the first's insert is uncommitted: its snapshot has no row.
    secondOutcome = upsertDossiers(env.db, [second]);
    await waitFor(async () => {
      const { rows } = await sql<{ waiting: number }>`
        SELECT count(*)::int AS waiting FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%json_to_recordset%'`.execute(
        env.db,
      );
      return rows[0]!.waiting === 1;
    }, 'the second writer waits on the first one’s insert');
    return outcome;
  });
  expect(firstOutcome).toMatchObject({ inserted: 1, updated: 0 });
  expect(await secondOutcome).toMatchObject({ inserted: 0, updated: 1, unchanged: 0 });
  const stored = await env.db.selectFrom('dossiers').select(['status', 'source_version']).executeTakeFirstOrThrow();
  expect(stored).toEqual({ status: 4, source_version: '2' });
}, 60_000);
