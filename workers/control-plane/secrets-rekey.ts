import type { Kysely } from 'kysely';
import {
  countWebhookSecretsByKey,
  lockSecretsToRekey,
  resealWebhookSecrets,
} from '../../db/queries/rekey-webhook-secrets.js';
import type { Database } from '../../db/schema.js';
import { SecretUnreadableError, type SecretBox } from '../webhooks/secret-box.js';

/** Options of a rekey. */
export interface RekeyOptions {
  /** Secrets re-sealed per transaction. Default 100. */
  batchSize?: number;
  /** Called after each committed batch with the totals so far. */
  onBatch?: (progress: RekeyProgress) => void;
  /** Stops between batches (what is committed stays so); the rest is done by the next run. */
  signal?: AbortSignal;
}

/** Totals of a rekey so far. */
export interface RekeyProgress {
  rekeyed: number;
  unreadable: number;
  /** Secrets not on the newest key when the run began. */
  toRekey: number;
}

/** What a rekey did. */
export interface RekeySummary {
  /** Secrets re-sealed with the newest key by this run. */
  rekeyed: number;
  /** Secrets already sealed with the newest key (by an earlier run, a rotation, or at issue). */
  alreadyNewest: number;
  /** Secrets no configured key opens, by row; left as they are. */
  unreadable: { id: string; connectorId: string; reason: string }[];
  /** Whether the run was stopped before it was done. */
  stopped: boolean;
  newestKeyId: string;
}

/** Passes over the table at most: the first skips rows a rotation holds, the second waits for them. */
const maxPasses = 2;

/**
 * Re-seals every stored webhook secret not sealed with the newest configured key, `batchSize` per transaction
 * (each row locked while it is re-sealed, so a rotation of its connector waits for that batch alone). Resumable:
 * it only ever looks for rows not yet on the newest key, so a run killed midway is finished by the next. The
 * secrets are the same afterwards; vendors see nothing.
 */
export async function rekeyWebhookSecrets(
  db: Kysely<Database>,
  box: SecretBox,
  options: RekeyOptions = {},
): Promise<RekeySummary> {
  const batchSize = options.batchSize ?? 100;
  const newestKeyId = box.newestKeyId;
  const unreadable = new Map<string, { id: string; connectorId: string; reason: string }>();
  const before = await countWebhookSecretsByKey(db);
  const toRekey = before.filter((row) => row.keyId !== newestKeyId).reduce((sum, row) => sum + row.secrets, 0);
  let rekeyed = 0;
  let stopped = false;
  for (let pass = 0; pass < maxPasses && !stopped; pass++) {
    let afterId = '0';
    for (;;) {
      if (options.signal?.aborted) {
        stopped = true;
        break;
      }
      const batch = await db.transaction().execute(async (trx) => {
        const rows = await lockSecretsToRekey(trx, newestKeyId, afterId, batchSize, pass > 0);
        const resealed: { id: string; sealed: Buffer }[] = [];
        for (const row of rows) {
          try {
            resealed.push({ id: row.id, sealed: box.seal(box.open(row.sealed, row.connectorId), row.connectorId) });
          } catch (failure) {
            if (!(failure instanceof SecretUnreadableError)) throw failure;
            unreadable.set(row.id, { id: row.id, connectorId: row.connectorId, reason: failure.message });
          }
        }
        await resealWebhookSecrets(trx, resealed);
        return { lastId: rows.at(-1)?.id, resealed: resealed.length };
      });
      if (batch.lastId === undefined) break;
      afterId = batch.lastId;
      rekeyed += batch.resealed;
      options.onBatch?.({ rekeyed, unreadable: unreadable.size, toRekey });
    }
    if (stopped) break;
    const left = (await countWebhookSecretsByKey(db))
      .filter((row) => row.keyId !== newestKeyId)
      .reduce((sum, row) => sum + row.secrets, 0);
    if (left <= unreadable.size) break;
  }
  const after = await countWebhookSecretsByKey(db);
  const onNewest = after.find((row) => row.keyId === newestKeyId)?.secrets ?? 0;
  return {
    rekeyed,
    alreadyNewest: Math.max(0, onNewest - rekeyed),
    unreadable: [...unreadable.values()],
    stopped,
    newestKeyId,
  };
}
