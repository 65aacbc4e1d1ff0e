import { sql, type Kysely } from 'kysely';
import type { Json } from '../../connectors/sdk/connector.js';
import { toStorableJsonb } from '../../connectors/sdk/storable-text.js';
import type { Database } from '../schema.js';

/** Where a backfill run is: the windows read to their end, and the read state inside the next one (null: its start). */
export interface BackfillProgress {
  windowsDone: number;
  position: Json | null;
}

/** A backfill's progress move carried by an ingest batch: from where its page was read, to just after it. */
export interface BackfillProgressMove {
  /** The backfill run (backfill_runs.id). */
  runId: string;
  before: BackfillProgress;
  after: BackfillProgress;
}

/** A read state as its jsonb column holds it (SQL NULL for a window's start); text jsonb refuses is kept exactly. */
const positionJson = (position: Json | null) => (position === null ? null : JSON.stringify(toStorableJsonb(position)));

/**
 * Moves a backfill run's progress, inside the transaction that stores the records of the page it covers, and only
 * from the progress the page was read after: a page re-read after a kill (its batch committed meanwhile) stores its
 * records again harmlessly but counts nothing twice. The move that completes the last window finishes the run.
 * Returns whether it moved.
 */
export async function commitBackfillProgress(
  db: Kysely<Database>,
  move: BackfillProgressMove,
  counts: { records: number; deadLetters: number },
): Promise<boolean> {
  const before = positionJson(move.before.position);
  const result = await sql`
    UPDATE backfill_runs SET
      windows_done = ${move.after.windowsDone},
      position = ${positionJson(move.after.position)}::jsonb,
      records = records + ${counts.records},
      dead_letters = dead_letters + ${counts.deadLetters},
      status = CASE WHEN ${move.after.windowsDone} >= windows_total THEN 'done' ELSE status END,
      finished_at = CASE WHEN ${move.after.windowsDone} >= windows_total THEN now() ELSE finished_at END,
      updated_at = now()
    WHERE id = ${move.runId} AND status = 'running' AND windows_done = ${move.before.windowsDone}
      AND position IS NOT DISTINCT FROM ${before}::jsonb`.execute(db);
  return Number(result.numAffectedRows ?? 0) === 1;
}
