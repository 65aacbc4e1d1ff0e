import type { Kysely } from 'kysely';
import { insertDeadLetters } from '../../db/queries/insert-dead-letters.js';
import { commitCursor } from '../../db/queries/sync-cursors.js';
import { upsertDossiers, type UpsertOutcome } from '../../db/queries/upsert-dossiers.js';
import type { Database } from '../../db/schema.js';
import type { IngestBatch } from '../queues.js';

/** What committing one batch did. */
export interface WriteOutcome extends UpsertOutcome {
  /** New dead letters kept. */
  deadLetters: number;
  /** Whether the batch moved its connector's cursor (false for a stale or repeated batch, or a push). */
  cursorMoved: boolean;
}

/**
 * Commits one ingest batch in one transaction: the guarded upsert, the history, the dead letters and the
 * cursor move. Either all of it is stored or none (guarantee 1: the cursor never covers an uncommitted record).
 */
export async function writeBatch(db: Kysely<Database>, batch: IngestBatch): Promise<WriteOutcome> {
  return db.transaction().execute(async (trx) => {
    const outcome = await upsertDossiers(trx, batch.records);
    const deadLetters = await insertDeadLetters(trx, batch.deadLetters);
    const cursorMoved = batch.cursor
      ? await commitCursor(trx, batch.connectorId, batch.cursor, batch.records.length + batch.deadLetters.length)
      : false;
    return { ...outcome, deadLetters, cursorMoved };
  });
}
