import type { ApiKeyRow, ApiKeyScope } from './api-key-store.js';
import { isoTime } from './view-time.js';

// An API key as `fleet apikey list -o json` prints it (and an admin route would return it): never the key.

/** A key of the admin or read API: who uses it, its scope and its use; never the key nor its hash. */
export interface ApiKeyView {
  id: string;
  name: string;
  scope: ApiKeyScope;
  /** The current (2025) province codes the key is bound to; null: a national key. */
  provinces: string[] | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** The view of an API key row. */
export function apiKeyView(row: ApiKeyRow): ApiKeyView {
  return {
    id: String(row.id),
    name: row.name,
    scope: row.scope,
    provinces: row.provinces,
    createdAt: isoTime(row.created_at)!,
    lastUsedAt: isoTime(row.last_used_at),
    revokedAt: isoTime(row.revoked_at),
  };
}

/** The list of keys. */
export function apiKeyListView(rows: readonly ApiKeyRow[]): { apiKeys: ApiKeyView[] } {
  return { apiKeys: rows.map(apiKeyView) };
}
