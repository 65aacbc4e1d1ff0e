import type { Kysely } from 'kysely';
import {
  countWebhookSecretsByKey,
  lockSecretsToRekey,
  resealWebhookSecrets,
} from '../../db/queries/rekey-webhook-secrets.js';
import { insertAuditEvent } from '../../db/queries/audit-events.js';
import type { Database } from '../../db/schema.js';
import { SecretUnreadableError, type SecretBox } from '../webhooks/secret-box.js';
import { actorColumns, type Actor } from './audit.js';

/** Options of a rekey. */
export interface RekeyOptions {
  /** Who rekeys: recorded in the audit trail once the run ends (how many, from which key ids to which). */
  actor: Actor;
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
  options: RekeyOptions,
): Promise<RekeySummary> {
  const batchSize = options.batchSize ?? 100;
  const newestKeyId = box.newestKeyId;
  const unreadable = new Map<string, { id: string; connectorId: string; reason: string }>();
  const before = await countWebhookSecretsByKey(db);
  const toRekey = before.filter((row) => row.keyId !== newestKeyId).reduce((sum, row) => sum + row.secrets, 0);
  let rekeyed = 0;
  let stopped = false;
  /** Secrets re-sealed, by the key they were sealed with. */
  const fromKeys = new Map<string | null, number>();
  try {
    for (let pass = 0; pass < maxPasses && !stopped; pass++) {
      let afterId = '0';
      for (;;) {
        if (options.signal?.aborted) {
          stopped = true;
          break;
        }
        const batch = await db.transaction().execute(async (trx) => {
          const rows = await lockSecretsToRekey(trx, newestKeyId, afterId, batchSize, pass > 0);
          const resealed: { id: string; sealed: Buffer; keyId: string | null }[] = [];
          for (const row of rows) {
            try {
              resealed.push({
                id: row.id,
                sealed: box.seal(box.open(row.sealed, row.connectorId), row.connectorId),
                keyId: row.keyId,
              });
            } catch (failure) {
              if (!(failure instanceof SecretUnreadableError)) throw failure;
              unreadable.set(row.id, { id: row.id, connectorId: row.connectorId, reason: failure.message });
            }
          }
          await resealWebhookSecrets(trx, resealed);
          return { lastId: rows.at(-1)?.id, resealed };
        });
        if (batch.lastId === undefined) break;
        afterId = batch.lastId;
        rekeyed += batch.resealed.length;
        for (const { keyId } of batch.resealed) fromKeys.set(keyId, (fromKeys.get(keyId) ?? 0) + 1);
        options.onBatch?.({ rekeyed, unreadable: unreadable.size, toRekey });
      }
      if (stopped) break;
      const left = (await countWebhookSecretsByKey(db))
        .filter((row) => row.keyId !== newestKeyId)
        .reduce((sum, row) => sum + row.secrets, 0);
      if (left <= unreadable.size) break;
    }
  } finally {
    // Recorded once the run ends or stops, with what it did: each batch commits in a transaction of its own, so
    // there is no one transaction to record the run in. Key ids only, never key material; nothing done: no record.
    if (rekeyed > 0 || unreadable.size > 0)
      await insertAuditEvent(db, {
        ...actorColumns(options.actor),
        action: 'secrets.rekey',
        details: {
          rekeyed,
          fromKeys: [...fromKeys].map(([keyId, secrets]) => ({ keyId, secrets })),
          toKeyId: newestKeyId,
          unreadable: unreadable.size,
          stopped,
        },
      });
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
