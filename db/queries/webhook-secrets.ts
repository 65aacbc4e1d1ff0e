import { sql, type Kysely } from 'kysely';
import type { ConnectorRow } from './connectors.js';
import { inTransaction } from './in-transaction.js';
import type { Database } from '../schema.js';

/** A stored webhook secret, still sealed (AES-256-GCM under SECRETS_KEY). */
export interface SealedWebhookSecret {
  id: string;
  sealed: Buffer;
  createdAt: Date;
  /** null: the current secret; otherwise the end of its grace period. */
  expiresAt: Date | null;
}

/** What a rotation did. */
export type RotationOutcome =
  | { status: 'rotated'; state: ConnectorRow['state']; previous: { count: number; validUntil: Date | null } }
  | { status: 'not_found' }
  | { status: 'removed' };

/**
 * Makes `sealed` the connector's current webhook secret. Every secret valid until now stays valid for at most
 * `graceSeconds` more (0: refused at once); secrets whose grace period is over are deleted. Rotations of one
 * connector are serialised on its row, so two at once cannot leave two current secrets.
 */
export async function rotateWebhookSecret(
  db: Kysely<Database>,
  connectorId: string,
  sealed: Buffer,
  graceSeconds: number,
): Promise<RotationOutcome> {
  return inTransaction(db, async (trx) => {
    const connector = await trx
      .selectFrom('connectors')
      .select('state')
      .where('id', '=', connectorId)
      .forUpdate()
      .executeTakeFirst();
    if (!connector) return { status: 'not_found' };
    if (connector.state === 'removed') return { status: 'removed' };
    const grace = sql`make_interval(secs => ${graceSeconds})`;
    const kept = await trx
      .updateTable('webhook_secrets')
      .set({ expires_at: sql<Date>`LEAST(COALESCE(expires_at, 'infinity'), now() + ${grace})` })
      .where('connector_id', '=', connectorId)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
      .returning('expires_at')
      .execute();
    await trx
      .deleteFrom('webhook_secrets')
      .where('connector_id', '=', connectorId)
      .where('expires_at', '<=', sql<Date>`now()`)
      .execute();
    await trx.insertInto('webhook_secrets').values({ connector_id: connectorId, sealed, expires_at: null }).execute();
    const validUntil =
      graceSeconds > 0 && kept.length > 0
        ? new Date(Math.max(...kept.map((row) => new Date(row.expires_at!).getTime())))
        : null;
    return { status: 'rotated', state: connector.state, previous: { count: kept.length, validUntil } };
  });
}

/** The connector's secrets still accepted now: the current one first, then those in a grace period. */
export async function findWebhookSecrets(db: Kysely<Database>, connectorId: string): Promise<SealedWebhookSecret[]> {
  const rows = await db
    .selectFrom('webhook_secrets')
    .select(['id', 'sealed', 'created_at', 'expires_at'])
    .where('connector_id', '=', connectorId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
    .orderBy(sql`expires_at IS NULL`, 'desc')
    .orderBy('expires_at', 'desc')
    .execute();
  return rows.map((row) => ({
    id: String(row.id),
    sealed: row.sealed,
    createdAt: row.created_at,
    expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
  }));
}
