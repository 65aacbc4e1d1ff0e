import type { Kysely } from 'kysely';
import { createConnector } from '../../connectors/plugins.js';
import type { Connector } from '../../connectors/sdk/connector.js';
import type { DossierRecord } from '../../connectors/sdk/dossier-record.js';
import { mapItems } from '../../connectors/sdk/normalise.js';
import type { CodeSet } from '../../config/provinces.js';
import { findConnector } from '../../db/queries/connectors.js';
import { listDeadLetters, markDeadLetters, updateDeadLetterReasons, type DeadLetterFilter } from '../../db/queries/dead-letters.js';
import { upsertDossiers } from '../../db/queries/upsert-dossiers.js';
import type { Database } from '../../db/schema.js';

/** Where a replay is. */
export interface ReplayProgress {
  /** Letters looked at so far. */
  processed: number;
  /** Letters whose payload now maps: their records are stored, the letters marked `replayed`. */
  replayed: number;
  /** Letters that still fail: kept `new`, with the reason and message of this attempt. */
  stillFailing: number;
}

/**
 * Re-runs kept raw payloads through their connector's *current* mapping (after a definition was fixed), in
 * batches: each batch's records and the marking of its letters commit in one transaction. A replayed record
 * counts as observed when it was first received, so it never overrides a newer state of the same version.
 */
export async function replayDeadLetters(db: Kysely<Database>, filter: DeadLetterFilter, options: { batchSize?: number; onProgress?: (progress: ReplayProgress) => void } = {}): Promise<ReplayProgress> {
  const progress: ReplayProgress = { processed: 0, replayed: 0, stillFailing: 0 };
  const connectors = new Map<string, { connector: Connector; provinceCode: string; codeSet: CodeSet } | null>();
  let afterId: string | undefined;
  for (;;) {
    const letters = await listDeadLetters(db, { ...filter, state: 'new' }, { afterId, limit: options.batchSize ?? 500 });
    if (letters.length === 0) break;
    afterId = letters.at(-1)!.id;

    const records: DossierRecord[] = [];
    const replayed: string[] = [];
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
          row ? { connector: createConnector({ id: row.id, sourceProvinceCode: row.province_code, sourceCodeSet: row.code_set as CodeSet, kind: row.kind, config: row.config }), provinceCode: row.province_code, codeSet: row.code_set as CodeSet } : null,
        );
      }
      const source = connectors.get(letter.connector_id);
      if (!source) {
        failures.push({ id: letter.id, reason: letter.reason, message: `${letter.message} (replay: connector ${letter.connector_id} is no longer registered)` });
        continue;
      }
      const mapped = mapItems(source.connector, [JSON.parse(letter.raw_payload)], {
        connectorId: letter.connector_id,
        sourceProvinceCode: source.provinceCode,
        sourceCodeSet: source.codeSet,
        observedAt: new Date(letter.received_at),
      });
      if (mapped.records.length === 1) {
        records.push(mapped.records[0]!);
        replayed.push(letter.id);
      } else {
        const again = mapped.deadLetters[0]!;
        failures.push({ id: letter.id, reason: again.reason, message: again.message });
      }
    }
    await db.transaction().execute(async (trx) => {
      await upsertDossiers(trx, records);
      await markDeadLetters(trx, replayed, 'replayed');
      await updateDeadLetterReasons(trx, failures);
    });
    progress.processed += letters.length;
    progress.replayed += replayed.length;
    progress.stillFailing += failures.length;
    options.onProgress?.({ ...progress });
  }
  return progress;
}
