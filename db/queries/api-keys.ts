import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { ApiKeysTable, Database } from '../schema.js';

/** What a key allows: `admin` the admin API (connectors), `read` the national portal's read API. */
export const apiKeyScopes = ['admin', 'read'] as const;
export type ApiKeyScope = (typeof apiKeyScopes)[number];

/** A key as listed: never the key, never its hash. */
export type ApiKeyRow = Omit<Selectable<ApiKeysTable>, 'key_hash' | 'hash_prefix'>;

/** `dsk_` and 32 random bytes in base64url (43 characters). */
const keyPattern = /^dsk_[A-Za-z0-9_-]{43}$/;
/** A key's last use is written at most this often, so verifying a key is not a write per request. */
const lastUsedResolution = '1 minute';

function sha256(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Creates a key; returns it with its id. The key is returned here once: only its SHA-256 hash is stored. */
export async function createApiKey(db: Kysely<Database>, name: string, scope: ApiKeyScope): Promise<{ id: string; key: string }> {
  const key = `dsk_${randomBytes(32).toString('base64url')}`;
  const hash = sha256(key);
  const row = await db
    .insertInto('api_keys')
    .values({ name, scope, key_hash: hash, hash_prefix: hash.subarray(0, 8).toString('hex') })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: String(row.id), key };
}

/** Every key, oldest first, without the key or its hash. */
export async function listApiKeys(db: Kysely<Database>): Promise<ApiKeyRow[]> {
  return db.selectFrom('api_keys').select(['id', 'name', 'scope', 'created_at', 'revoked_at', 'last_used_at']).orderBy('id').execute();
}

/** Revokes a key; returns it as it was before (undefined: no such key). Revoking twice keeps the first time. */
export async function revokeApiKey(db: Kysely<Database>, id: string): Promise<ApiKeyRow | undefined> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('api_keys')
      .select(['id', 'name', 'scope', 'created_at', 'revoked_at', 'last_used_at'])
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    if (row && row.revoked_at === null) await trx.updateTable('api_keys').set({ revoked_at: sql<Date>`now()` }).where('id', '=', id).execute();
    return row;
  });
}

/** What a presented key turned out to be. */
export type KeyVerification = { status: 'valid'; id: string; name: string; scope: ApiKeyScope } | { status: 'unknown' } | { status: 'revoked' };

/**
 * Checks a presented key: finds the candidate rows by the first bytes of its hash, then compares the whole
 * hash in constant time. Records the key's last use (at most once a minute).
 */
export async function verifyApiKey(db: Kysely<Database>, presented: string): Promise<KeyVerification> {
  if (!keyPattern.test(presented)) return { status: 'unknown' };
  const hash = sha256(presented);
  const candidates = await db
    .selectFrom('api_keys')
    .select(['id', 'name', 'scope', 'key_hash', 'revoked_at'])
    .where('hash_prefix', '=', hash.subarray(0, 8).toString('hex'))
    .execute();
  const match = candidates.find((row) => row.key_hash.length === hash.length && timingSafeEqual(row.key_hash, hash));
  if (!match) return { status: 'unknown' };
  if (match.revoked_at !== null) return { status: 'revoked' };
  await db
    .updateTable('api_keys')
    .set({ last_used_at: sql<Date>`now()` })
    .where('id', '=', match.id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', sql<Date>`now() - ${lastUsedResolution}::interval`)]))
    .execute();
  return { status: 'valid', id: String(match.id), name: match.name, scope: match.scope };
}
