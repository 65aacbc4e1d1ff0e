import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../schema.js';

/** A stored webhook secret to re-seal under the newest master key. */
export interface SecretToRekey {
  id: string;
  connectorId: string;
  sealed: Buffer;
  /** The master key it is sealed with now (null: sealed before keys had ids). */
  keyId: string | null;
}

/**
 * Locks the next `limit` secrets after id `afterId` that are not sealed with `newestKeyId`, in id order. Rows a
 * rotation holds are skipped (SKIP LOCKED) unless `wait`: a first pass does not queue behind rotations, a second
 * waits for the few it skipped.
 */
export async function lockSecretsToRekey(
  trx: Transaction<Database>,
  newestKeyId: string,
  afterId: string,
  limit: number,
  wait = false,
): Promise<SecretToRekey[]> {
  const rows = await sql<{ id: string; connector_id: string; sealed: Buffer; key_id: string | null }>`
    SELECT id, connector_id, sealed, key_id
    FROM webhook_secrets
    WHERE key_id IS DISTINCT FROM ${newestKeyId}
      AND id > ${afterId}::bigint
    ORDER BY id
    LIMIT ${limit}
    FOR UPDATE ${wait ? sql`` : sql`SKIP LOCKED`}`.execute(trx);
  return rows.rows.map((row) => ({
    id: String(row.id),
    connectorId: row.connector_id,
    sealed: row.sealed,
    keyId: row.key_id,
  }));
}

/** Replaces the sealed form of each secret (already locked by the caller's transaction); key_id follows. */
export async function resealWebhookSecrets(
  trx: Transaction<Database>,
  resealed: { id: string; sealed: Buffer }[],
): Promise<void> {
  if (resealed.length === 0) return;
  const ids = resealed.map((secret) => secret.id);
  const sealed = resealed.map((secret) => secret.sealed);
  await sql`
    UPDATE webhook_secrets AS secret
    SET sealed = resealed.sealed
    FROM unnest(${ids}::bigint[], ${sealed}::bytea[]) AS resealed (id, sealed)
    WHERE secret.id = resealed.id`.execute(trx);
}

/** How many stored secrets each key seals (key id null: sealed before keys had ids), the most first. */
export async function countWebhookSecretsByKey(
  db: Kysely<Database>,
): Promise<{ keyId: string | null; secrets: number }[]> {
  const rows = await db
    .selectFrom('webhook_secrets')
    .select(['key_id', sql<string>`count(*)`.as('secrets')])
    .groupBy('key_id')
    .orderBy('secrets', 'desc')
    .orderBy('key_id')
    .execute();
  return rows.map((row) => ({ keyId: row.key_id, secrets: Number(row.secrets) }));
}
