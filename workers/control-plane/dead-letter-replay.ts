import type { Kysely } from 'kysely';
import { createConnector } from '../../connectors/plugins.js';
import type { Connector } from '../../connectors/sdk/connector.js';
import type { DossierRecord } from '../../connectors/sdk/dossier-record.js';
import { mapItems } from '../../connectors/sdk/normalise.js';
import type { CodeSet } from '../../config/provinces.js';
import { findConnector } from '../../db/queries/connectors.js';
import { listDeadLetters, updateDeadLetterReasons, type DeadLetterFilter } from '../../db/queries/dead-letters.js';
import type { Database } from '../../db/schema.js';
import { insertAuditEvents } from '../../db/queries/audit-events.js';
import { actorColumns, connectorAuditColumns, type Actor } from './audit.js';
import type { IngestBatch } from '../queue/ingest-message.js';
import { BatchNotCommittedError, type IngestQueue } from '../queue/ingest-queue.js';

/** Where a replay is. */
export interface ReplayProgress {
  /** Letters looked at so far. */
  processed: number;
  /** Letters whose payload now maps: their records are committed by the writer, the letters marked `replayed`. */
  replayed: number;
  /** Letters that still fail: kept `new`, with the reason and message of this attempt. */
  stillFailing: number;
}

/** Options of a replay. */
export interface ReplayOptions {
  /** Who replays: recorded in the audit trail, one event per connector with its counts. */
  actor: Actor;
  /** Letters read at a time. Default 500. */
  batchSize?: number;
  /** Told after each batch of letters. */
  onProgress?: (progress: ReplayProgress) => void;
  /** How long to wait for the writer to commit one batch. Default 2 minutes. */
  commitTimeoutMs?: number;
}

/** A replay's batch: the records of one connector and current province, with the letters they were mapped from. */
type ReplayBatch = IngestBatch & { replayedDeadLetters: string[] };

/**
 * Re-runs kept raw payloads through their connector's *current* mapping (after a definition was fixed), in
 * batches. The records go the one way into `dossiers`: through the ingest queue to the writer, which commits each
 * batch's records and marks its letters replayed in one transaction; the replay waits for each commit, so it
 * needs a running writer. A replayed record counts as observed when it was first received, so it never overrides
 * a newer state of the same version. Letters that still fail keep their place, with this attempt's reason.
 */
export async function replayDeadLetters(
  db: Kysely<Database>,
  ingest: Pick<IngestQueue, 'addAndWait'>,
  filter: DeadLetterFilter,
  options: ReplayOptions,
): Promise<ReplayProgress> {
  const progress: ReplayProgress = { processed: 0, replayed: 0, stillFailing: 0 };
  const byConnector = new Map<string, ReplayProgress>();
  try {
    return await replay(db, ingest, filter, options, progress, byConnector);
  } finally {
    // Recorded once the replay ends or stops, with what it did: the records themselves are committed by the writer,
    // batch by batch, in transactions of its own, so there is no one transaction to record the replay in.
    const events = [];
    for (const [connectorId, counts] of byConnector)
      events.push({
        ...actorColumns(options.actor),
        action: 'dead_letter.replay',
        ...(await connectorAuditColumns(db, connectorId)),
        details: { deadLetters: counts.processed, replayed: counts.replayed, stillFailing: counts.stillFailing },
      });
    await insertAuditEvents(db, events);
  }
}

async function replay(
  db: Kysely<Database>,
  ingest: Pick<IngestQueue, 'addAndWait'>,
  filter: DeadLetterFilter,
  options: ReplayOptions,
  progress: ReplayProgress,
  byConnector: Map<string, ReplayProgress>,
): Promise<ReplayProgress> {
  const commitTimeoutMs = options.commitTimeoutMs ?? 120_000;
  const connectors = new Map<string, { connector: Connector; provinceCode: string; codeSet: CodeSet } | null>();
  let afterId: string | undefined;
  for (;;) {
    const letters = await listDeadLetters(
      db,
      { ...filter, state: 'new' },
      { afterId, limit: options.batchSize ?? 500 },
    );
    if (letters.length === 0) break;
    afterId = letters.at(-1)!.id;

    const batches = new Map<string, ReplayBatch>();
    let replayed = 0;
    const failures: { id: string; reason: string; message: string }[] = [];
    for (const letter of letters) {
      // The writer's letters hold the record (or letter) as it reached the database, not what the source sent:
      // no mapping can replay them. They stay as they are, until the source sends the record again or a discard.
      if (letter.reason === 'unstorable') {
        failures.push({ id: letter.id, reason: letter.reason, message: letter.message });
        continue;
      }
      if (!connectors.has(letter.connector_id)) {
        const row = await findConnector(db, letter.connector_id);
        connectors.set(
          letter.connector_id,
          row
            ? {
                connector: createConnector({
                  id: row.id,
                  sourceProvinceCode: row.province_code,
                  sourceCodeSet: row.code_set as CodeSet,
                  kind: row.kind,
                  config: row.config,
                }),
                provinceCode: row.province_code,
                codeSet: row.code_set as CodeSet,
              }
            : null,
        );
      }
      const source = connectors.get(letter.connector_id);
      if (!source) {
        failures.push({
          id: letter.id,
          reason: letter.reason,
          message: `${letter.message} (replay: connector ${letter.connector_id} is no longer registered)`,
        });
        continue;
      }
      const mapped = mapItems(source.connector, [JSON.parse(letter.raw_payload)], {
        connectorId: letter.connector_id,
        sourceProvinceCode: source.provinceCode,
        sourceCodeSet: source.codeSet,
        observedAt: new Date(letter.received_at),
      });
      if (mapped.records.length === 1) {
        const record = mapped.records[0]!;
        const batch = batchOf(batches, letter.connector_id, source.provinceCode, record);
        batch.records.push(record);
        batch.replayedDeadLetters.push(letter.id);
        replayed += 1;
      } else {
        const again = mapped.deadLetters[0]!;
        failures.push({ id: letter.id, reason: again.reason, message: again.message });
      }
    }
    for (const batch of batches.values()) {
      await commit(ingest, batch, commitTimeoutMs);
      counts(byConnector, batch.connectorId).replayed += batch.replayedDeadLetters.length;
    }
    await updateDeadLetterReasons(db, failures);
    for (const letter of letters) counts(byConnector, letter.connector_id).processed += 1;
    for (const failure of failures)
      counts(byConnector, letters.find((letter) => letter.id === failure.id)!.connector_id).stillFailing += 1;
    progress.processed += letters.length;
    progress.replayed += replayed;
    progress.stillFailing += failures.length;
    options.onProgress?.({ ...progress });
  }
  return progress;
}

/** A connector's counts of a replay. */
function counts(byConnector: Map<string, ReplayProgress>, connectorId: string): ReplayProgress {
  let found = byConnector.get(connectorId);
  if (!found) byConnector.set(connectorId, (found = { processed: 0, replayed: 0, stillFailing: 0 }));
  return found;
}

/**
 * The batch a replayed record joins: one per connector and current province, so each goes to its province's
 * queue as a poll page does. It moves no cursor.
 */
function batchOf(
  batches: Map<string, ReplayBatch>,
  connectorId: string,
  connectorProvince: string,
  record: DossierRecord,
): ReplayBatch {
  const key = `${connectorId}\u0000${record.provinceCode}`;
  let batch = batches.get(key);
  if (!batch) {
    batch = {
      origin: 'poll',
      connectorId,
      provinceCode: connectorProvince,
      records: [],
      deadLetters: [],
      replayedDeadLetters: [],
    };
    batches.set(key, batch);
  }
  return batch;
}

/** Hands a batch to the writer and waits for its commit; a batch not committed says what to check. */
async function commit(ingest: Pick<IngestQueue, 'addAndWait'>, batch: ReplayBatch, timeoutMs: number): Promise<void> {
  try {
    await ingest.addAndWait(batch, timeoutMs);
  } catch (error) {
    if (!(error instanceof BatchNotCommittedError)) throw error;
    throw new BatchNotCommittedError(
      `${error.message}; replayed records are committed by the writer: check that a writer runs (fleet start --role writer) with this REDIS_URL and QUEUE_PREFIX`,
    );
  }
}
