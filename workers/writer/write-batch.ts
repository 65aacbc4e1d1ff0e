import { sql, type Kysely, type Transaction } from 'kysely';
import type { DossierRecord } from '../../connectors/sdk/dossier-record.js';
import { dossierDateFields } from '../../connectors/sdk/dossier-record.js';
import type { DeadLetter } from '../../connectors/sdk/normalise.js';
import { escapeUnstorable, isStorableInstant, isStorableText } from '../../connectors/sdk/storable-text.js';
import { describeDataError, isDataError } from '../../db/database.js';
import { markDeadLetters } from '../../db/queries/dead-letters.js';
import { insertDeadLetters } from '../../db/queries/insert-dead-letters.js';
import { commitBackfillProgress } from '../../db/queries/backfill-progress.js';
import { commitCursor } from '../../db/queries/sync-cursors.js';
import { upsertDossiers, type AnomalyCount, type UpsertOutcome } from '../../db/queries/upsert-dossiers.js';
import type { Database } from '../../db/schema.js';
import type { IngestBatch } from '../queue/ingest-message.js';

/** What committing one batch did. */
export interface WriteOutcome extends UpsertOutcome {
  /** New dead letters kept (those the batch carried, and its records the database refused). */
  deadLetters: number;
  /** Records of the batch the database refused: kept as `unstorable` dead letters instead (DESIGN.md guarantee 4). */
  unstorable: number;
  /** Whether the batch moved its connector's cursor (false for a stale or repeated batch, or a push). */
  cursorMoved: boolean;
  /** Whether a backfill's batch moved its run's progress (false for a page re-read after a kill, or no backfill). */
  backfillMoved: boolean;
}

const noUpsert: UpsertOutcome = { inserted: 0, updated: 0, unchanged: 0, events: 0, anomalies: [] };

/** Two parts' anomaly counts as one list, a connector and kind once. */
function addAnomalies(a: readonly AnomalyCount[], b: readonly AnomalyCount[]): AnomalyCount[] {
  const sum = a.map((count) => ({ ...count }));
  for (const count of b) {
    const same = sum.find((known) => known.connectorId === count.connectorId && known.kind === count.kind);
    if (same) same.count += count.count;
    else sum.push({ ...count });
  }
  return sum;
}

/**
 * Commits one ingest batch in one transaction: the guarded upsert, the history, the dead letters, and the
 * cursor move (a backfill's progress move) or, for a dead-letter replay's batch, the marking of its letters as
 * replayed. Either all of it is stored or none (guarantee 1: the cursor, or a backfill's progress, never covers an
 * uncommitted record; a letter is marked replayed only with its record).
 *
 * A batch the database refuses with a data error (class 22 or 23: mapping lets nothing through that causes one,
 * but a batch from an older gateway or a plugin may) is not given up: it is committed again with the refused
 * records isolated (`commitIsolating`), so a bad record never costs a good one.
 */
export async function writeBatch(db: Kysely<Database>, batch: IngestBatch): Promise<WriteOutcome> {
  try {
    return await db.transaction().execute(async (trx) => {
      const outcome = await upsertDossiers(trx, batch.records);
      const deadLetters = await insertDeadLetters(trx, batch.deadLetters);
      const cursorMoved = await moveCursor(trx, batch);
      const backfillMoved = await moveBackfill(trx, batch, 0);
      await markReplayed(trx, batch);
      return { ...outcome, deadLetters, unstorable: 0, cursorMoved, backfillMoved };
    });
  } catch (error) {
    if (!isDataError(error)) throw error;
    return db.transaction().execute((trx) => commitIsolating(trx, batch));
  }
}

/**
 * Commits several batches of one province's queue in one transaction (group commit): one guarded upsert of all
 * their records, then each batch's dead letters and cursor or backfill move, in queue order, so that pages of one
 * connector move its cursor one after another. Upsert counts of the group are given on the first batch's
 * outcome (a record's count cannot be told apart by batch in one statement), zeros on the others; each batch's
 * own dead letters and moves are its own. Any failure throws, and nothing is stored: the caller then commits the
 * batches one by one (`writeBatch`), each with its own isolation of refused records and its own retries.
 */
export async function writeGroup(db: Kysely<Database>, batches: readonly IngestBatch[]): Promise<WriteOutcome[]> {
  return db.transaction().execute(async (trx) => {
    const upserted = await upsertDossiers(
      trx,
      batches.flatMap((batch) => batch.records),
    );
    const outcomes: WriteOutcome[] = [];
    for (const [index, batch] of batches.entries()) {
      const deadLetters = await insertDeadLetters(trx, batch.deadLetters);
      const cursorMoved = await moveCursor(trx, batch);
      const backfillMoved = await moveBackfill(trx, batch, 0);
      await markReplayed(trx, batch);
      const counts = index === 0 ? upserted : noUpsert;
      outcomes.push({ ...counts, deadLetters, unstorable: 0, cursorMoved, backfillMoved });
    }
    return outcomes;
  });
}

function moveCursor(trx: Transaction<Database>, batch: IngestBatch): Promise<boolean> {
  return batch.cursor
    ? commitCursor(trx, batch.connectorId, batch.cursor, batch.records.length + batch.deadLetters.length)
    : Promise.resolve(false);
}

/** A backfill's progress moves with its page, as a cursor does: the run counts the records stored and letters kept. */
function moveBackfill(trx: Transaction<Database>, batch: IngestBatch, unstorable: number): Promise<boolean> {
  return batch.backfill
    ? commitBackfillProgress(trx, batch.backfill, {
        records: batch.records.length - unstorable,
        deadLetters: batch.deadLetters.length + unstorable,
      })
    : Promise.resolve(false);
}

/**
 * A replay's letters are marked with their records. A record the database refuses (an isolated one) is kept as an
 * `unstorable` letter like any batch's; its letter is marked too: the record it maps to now is the unstorable one.
 */
async function markReplayed(trx: Transaction<Database>, batch: IngestBatch): Promise<void> {
  if (batch.replayedDeadLetters) await markDeadLetters(trx, batch.replayedDeadLetters, 'replayed');
}

/**
 * The batch again, in one transaction, each part under a savepoint: a part the database refuses is rolled back to
 * its savepoint and split in two, until each refused record (or dead letter) is alone; it becomes an
 * `unstorable` dead letter, and the rest commits with the cursor move. Savepoints rather than probing in separate
 * transactions and committing again: the good parts are written once, and what commits is exactly what was
 * tried — nothing can change between a probe and the commit. Records are split in key order, so the parts lock
 * rows in the same order as a whole batch does, and concurrent writers cannot deadlock on them.
 */
async function commitIsolating(trx: Transaction<Database>, batch: IngestBatch): Promise<WriteOutcome> {
  const records = [...batch.records].sort(byKey);
  const refused: DeadLetter[] = [];
  const upserted = await storeIsolating(
    trx,
    records,
    (part) => upsertDossiers(trx, part),
    (record, error) => refused.push(unstorableRecord(batch, record, error)),
  );
  const outcome = upserted.reduce(
    (sum, part) => ({
      inserted: sum.inserted + part.inserted,
      updated: sum.updated + part.updated,
      unchanged: sum.unchanged + part.unchanged,
      events: sum.events + part.events,
      anomalies: addAnomalies(sum.anomalies, part.anomalies),
    }),
    noUpsert,
  );
  const letters = [...batch.deadLetters, ...refused];
  const fallbacks: DeadLetter[] = [];
  const stored = await storeIsolating(
    trx,
    letters,
    (part) => insertDeadLetters(trx, part),
    (letter, error) => fallbacks.push(unstorableLetter(batch, letter, error)),
  );
  // A fallback letter is made of escaped text and a time of now: if even it is refused, the batch fails whole.
  const deadLetters = stored.reduce((sum, count) => sum + count, 0) + (await insertDeadLetters(trx, fallbacks));
  const cursorMoved = await moveCursor(trx, batch);
  const backfillMoved = await moveBackfill(trx, batch, refused.length);
  await markReplayed(trx, batch);
  return { ...outcome, deadLetters, unstorable: refused.length, cursorMoved, backfillMoved };
}

/** One savepoint at a time: each is released before its halves take theirs. */
const savepoint = sql.id('isolating_part');

/**
 * Stores `items` with `store` under a savepoint; on a data error, rolls back to it and stores each half the same
 * way, down to single items, which are handed to `refuse`. Other errors end the transaction (the batch is retried).
 */
async function storeIsolating<T, R>(
  trx: Transaction<Database>,
  items: readonly T[],
  store: (part: readonly T[]) => Promise<R>,
  refuse: (item: T, error: unknown) => void,
): Promise<R[]> {
  if (items.length === 0) return [];
  await sql`SAVEPOINT ${savepoint}`.execute(trx);
  try {
    const result = await store(items);
    await sql`RELEASE SAVEPOINT ${savepoint}`.execute(trx);
    return [result];
  } catch (error) {
    if (!isDataError(error)) throw error;
    await sql`ROLLBACK TO SAVEPOINT ${savepoint}`.execute(trx);
    await sql`RELEASE SAVEPOINT ${savepoint}`.execute(trx);
    if (items.length === 1) {
      refuse(items[0]!, error);
      return [];
    }
    const middle = Math.ceil(items.length / 2);
    return [
      ...(await storeIsolating(trx, items.slice(0, middle), store, refuse)),
      ...(await storeIsolating(trx, items.slice(middle), store, refuse)),
    ];
  }
}

function byKey(a: DossierRecord, b: DossierRecord): number {
  if (a.provinceCode !== b.provinceCode) return a.provinceCode < b.provinceCode ? -1 : 1;
  return a.dossierCode < b.dossierCode ? -1 : a.dossierCode > b.dossierCode ? 1 : 0;
}

const textFields = [
  'provinceCode',
  'dossierCode',
  'altDossierCode',
  'sourceProvinceCode',
  'sourceCodeSet',
  'procedureCode',
  'sectorCode',
  'agencyCode',
  'sourceStatus',
  'connectorId',
] as const;
const timeFields = [...dossierDateFields, 'sourceUpdatedAt', 'observedAt'] as const;

/** The record's fields that hold what Postgres cannot store, by name only (never their values). */
function unstorableFields(record: DossierRecord): string[] {
  const fields: string[] = [];
  for (const field of textFields)
    if (typeof record[field] === 'string' && !isStorableText(record[field])) fields.push(field);
  for (const field of timeFields)
    if (typeof record[field] === 'string' && !isStorableInstant(record[field])) fields.push(field);
  return fields;
}

/** When a letter says it was received: the record's observation time if the database can store it. */
const receivedAtOf = (observedAt: unknown) =>
  typeof observedAt === 'string' && isStorableInstant(observedAt) ? observedAt : new Date().toISOString();

/** The dead letter of a record the database refused: the canonical record as the batch carried it. */
function unstorableRecord(batch: IngestBatch, record: DossierRecord, error: unknown): DeadLetter {
  const fields = unstorableFields(record);
  return {
    connectorId: batch.connectorId,
    provinceCode: typeof record.provinceCode === 'string' ? escapeUnstorable(record.provinceCode) : batch.provinceCode,
    dossierCode: typeof record.dossierCode === 'string' ? escapeUnstorable(record.dossierCode) : null,
    reason: 'unstorable',
    message: `the database refused this record (${describeDataError(error)})${fields.length > 0 ? `; ${fields.join(', ')}: a value it cannot store` : ''}; the record is kept as the writer received it: fix it at the source`,
    rawPayload: record,
    receivedAt: receivedAtOf(record.observedAt),
  };
}

/** The stand-in for a dead letter the database refused: the letter itself becomes the payload, kept as JSON text. */
function unstorableLetter(batch: IngestBatch, letter: DeadLetter, error: unknown): DeadLetter {
  return {
    connectorId: batch.connectorId,
    provinceCode: batch.provinceCode,
    dossierCode: typeof letter.dossierCode === 'string' ? escapeUnstorable(letter.dossierCode) : null,
    reason: 'unstorable',
    message: `the database refused this dead letter (${describeDataError(error)}); the letter is kept whole as the payload`,
    rawPayload: letter,
    receivedAt: receivedAtOf(letter.receivedAt),
  };
}
