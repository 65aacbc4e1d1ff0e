import { sql, type Kysely, type Selectable } from 'kysely';
import { inTransaction } from './in-transaction.js';
import type { ApiKeysTable, Database } from '../schema.js';

/** What a key allows: `admin` the admin API (connectors), `read` the national portal's read API. */
export const apiKeyScopes = ['admin', 'portal:read'] as const;
export type ApiKeyScope = (typeof apiKeyScopes)[number];

/** A key as listed: never the key, never its hash. */
export type ApiKeyRow = Omit<Selectable<ApiKeysTable>, 'key_hash' | 'hash_prefix'>;

/** Stores a new key by its SHA-256 hash (the key itself is never stored); returns its id. */
export async function insertApiKey(
  db: Kysely<Database>,
  key: { name: string; scope: ApiKeyScope; hash: Buffer; provinces: readonly string[] | null },
): Promise<string> {
  const row = await db
    .insertInto('api_keys')
    .values({
      name: key.name,
      scope: key.scope,
      provinces: key.provinces === null ? null : [...key.provinces],
      key_hash: key.hash,
      hash_prefix: key.hash.subarray(0, 8).toString('hex'),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return String(row.id);
}

const listedColumns = ['id', 'name', 'scope', 'provinces', 'created_at', 'revoked_at', 'last_used_at'] as const;

/** One key without the key or its hash, or undefined. */
export async function findApiKey(db: Kysely<Database>, id: string): Promise<ApiKeyRow | undefined> {
  return db.selectFrom('api_keys').select(listedColumns).where('id', '=', id).executeTakeFirst();
}

/** Every key, oldest first, without the key or its hash. */
export async function listApiKeys(db: Kysely<Database>): Promise<ApiKeyRow[]> {
  return db.selectFrom('api_keys').select(listedColumns).orderBy('id').execute();
}

/** Revokes a key; returns it as it was before (undefined: no such key). Revoking twice keeps the first time. */
export async function revokeApiKey(db: Kysely<Database>, id: string): Promise<ApiKeyRow | undefined> {
  return inTransaction(db, async (trx) => {
    const row = await trx
      .selectFrom('api_keys')
      .select(listedColumns)
      .where('id', '=', id)
      .forUpdate()
      .executeTakeFirst();
    if (row && row.revoked_at === null)
      await trx
        .updateTable('api_keys')
        .set({ revoked_at: sql<Date>`now()` })
        .where('id', '=', id)
        .execute();
    return row;
  });
}

/** The keys whose hash starts with these 8 bytes: the candidates a presented key is compared with. */
export async function findApiKeysByHashPrefix(db: Kysely<Database>, hash: Buffer) {
  return db
    .selectFrom('api_keys')
    .select(['id', 'name', 'scope', 'provinces', 'key_hash', 'revoked_at'])
    .where('hash_prefix', '=', hash.subarray(0, 8).toString('hex'))
    .execute();
}

/** Records a key's use, at most once per `resolution` (a Postgres interval), so a request is not a write. */
export async function touchApiKey(db: Kysely<Database>, id: string, resolution: string): Promise<void> {
  await db
    .updateTable('api_keys')
    .set({ last_used_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where((eb) =>
      eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', sql<Date>`now() - ${resolution}::interval`)]),
    )
    .execute();
}
