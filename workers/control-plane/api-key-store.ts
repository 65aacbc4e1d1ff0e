import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import {
  findApiKeysByHashPrefix,
  insertApiKey,
  revokeApiKey as revokeApiKeyRow,
  touchApiKey,
  type ApiKeyRow,
  type ApiKeyScope,
} from '../../db/queries/api-keys.js';
import { insertAuditEvent } from '../../db/queries/audit-events.js';
import type { Database } from '../../db/schema.js';
import { actorColumns, type Actor } from './audit.js';

export { apiKeyScopes, findApiKey, listApiKeys, type ApiKeyRow, type ApiKeyScope } from '../../db/queries/api-keys.js';

/** Who changes a key: recorded in the audit trail in the change's transaction (never the key). */
export interface KeyChangeOptions {
  actor: Actor;
}

/** `dsk_` and 32 random bytes in base64url (43 characters). */
const keyPattern = /^dsk_[A-Za-z0-9_-]{43}$/;
/** A key's last use is written at most this often, so verifying a key is not a write per request. */
const lastUsedResolution = '1 minute';

function sha256(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * Creates a key; returns it with its id. The key is returned here once: only its SHA-256 hash is stored.
 * `provinces`: the current (2025) codes it is bound to (validated by the caller); none or null: a national key.
 */
export async function createApiKey(
  db: Kysely<Database>,
  name: string,
  scope: ApiKeyScope,
  { actor, provinces = null }: KeyChangeOptions & { provinces?: readonly string[] | null },
): Promise<{ id: string; key: string }> {
  const key = `dsk_${randomBytes(32).toString('base64url')}`;
  const bound = provinces === null || provinces.length === 0 ? null : [...new Set(provinces)].sort();
  const id = await db.transaction().execute(async (trx) => {
    const id = await insertApiKey(trx, { name, scope, hash: sha256(key), provinces: bound });
    await insertAuditEvent(trx, {
      ...actorColumns(actor),
      action: 'api_key.create',
      api_key_id: id,
      details: { name, scope, ...(bound ? { provinces: bound } : {}) },
    });
    return id;
  });
  return { id, key };
}

/**
 * Revokes a key; returns it as it was before (undefined: no such key). Revoking twice keeps the first time, and
 * records only the first.
 */
export async function revokeApiKey(
  db: Kysely<Database>,
  id: string,
  { actor }: KeyChangeOptions,
): Promise<ApiKeyRow | undefined> {
  return db.transaction().execute(async (trx) => {
    const row = await revokeApiKeyRow(trx, id);
    // A bound key's provinces go with its events, so a province key's audit list shows the keys it sees.
    if (row && row.revoked_at === null)
      await insertAuditEvent(trx, {
        ...actorColumns(actor),
        action: 'api_key.revoke',
        api_key_id: id,
        details: row.provinces ? { provinces: row.provinces } : {},
      });
    return row;
  });
}

/** What a presented key turned out to be. */
export type KeyVerification =
  | {
      status: 'valid';
      id: string;
      name: string;
      scope: ApiKeyScope;
      /** The current (2025) province codes the key is bound to; null: national. */
      provinces: readonly string[] | null;
    }
  | { status: 'unknown' }
  | { status: 'revoked' };

/**
 * Checks a presented key: finds the candidate rows by the first bytes of its hash, then compares the whole
 * hash in constant time. Records the key's last use (at most once a minute).
 */
export async function verifyApiKey(db: Kysely<Database>, presented: string): Promise<KeyVerification> {
  if (!keyPattern.test(presented)) return { status: 'unknown' };
  const hash = sha256(presented);
  const candidates = await findApiKeysByHashPrefix(db, hash);
  const match = candidates.find((row) => row.key_hash.length === hash.length && timingSafeEqual(row.key_hash, hash));
  if (!match) return { status: 'unknown' };
  if (match.revoked_at !== null) return { status: 'revoked' };
  await touchApiKey(db, String(match.id), lastUsedResolution);
  return { status: 'valid', id: String(match.id), name: match.name, scope: match.scope, provinces: match.provinces };
}
