import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import type { Kysely } from 'kysely';
import { currentProvinceCode, type CodeSet } from '../../config/provinces.js';
import type { AuditEventRow } from '../../db/queries/audit-events.js';
import { findConnector } from '../../db/queries/connectors.js';
import type { Database } from '../../db/schema.js';
import { isoTime } from './view-time.js';

// Who made a change, and how the audit trail shows it. Every change of the control plane takes an Actor; the
// admin API passes the request's key, `fleet` the operating-system user.

/** Who makes a change: an API key (its id and name, never the key), or a `fleet` command run by an OS user. */
export type Actor = { kind: 'api_key'; id: string; name: string } | { kind: 'cli'; user: string };

/** The actor of a `fleet` command: the operating-system user running it. */
export function cliActor(): Actor {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // A container user without a passwd entry has no name: its uid still says who.
    user = `uid:${process.getuid?.() ?? 'unknown'}`;
  }
  return { kind: 'cli', user };
}

/** The actor of an admin request: the key it was let through with. */
export function keyActor(key: { id: string; name: string }): Actor {
  return { kind: 'api_key', id: key.id, name: key.name };
}

/** The actor's columns of an audit event. */
export function actorColumns(actor: Actor): { actor_kind: Actor['kind']; actor_id: string; actor_name: string } {
  return actor.kind === 'api_key'
    ? { actor_kind: 'api_key', actor_id: actor.id, actor_name: actor.name }
    : { actor_kind: 'cli', actor_id: actor.user, actor_name: actor.user };
}

/**
 * The audit columns of a change to a connector: its id and current (2025) province code, by which a province key's
 * list is filtered. A connector no longer registered keeps its id, with no province.
 */
export async function connectorAuditColumns(
  db: Kysely<Database>,
  connectorId: string,
): Promise<{ connector_id: string; province_code: string | null }> {
  const row = await findConnector(db, connectorId);
  return {
    connector_id: connectorId,
    province_code: row ? currentProvinceCode(row.province_code, row.code_set as CodeSet) : null,
  };
}

/** What a recorded change was. */
export const auditActions = [
  'connector.add',
  'connector.update',
  'connector.pause',
  'connector.resume',
  'connector.remove',
  'webhook_secret.rotate',
  'dead_letter.replay',
  'dead_letter.discard',
  'failed_batch.retry',
  'failed_batch.discard',
  'api_key.create',
  'api_key.revoke',
  'secrets.rekey',
  'backfill.start',
  'backfill.resume',
  'backfill.cancel',
  'reconcile.start',
  'reconcile.resume',
] as const;
export type AuditAction = (typeof auditActions)[number];

/** JSON with every object's keys sorted: the same definition gives the same text whatever order jsonb kept. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, inner]) => inner !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(',')}}`;
}

/**
 * sha256 (hex) of a definition's canonical JSON. A definition holds secrets only as references (`${env:…}`), so the
 * hash says whether the definition changed and reveals nothing.
 */
export function definitionHash(definition: unknown): string {
  return createHash('sha256').update(canonicalJson(definition), 'utf8').digest('hex');
}

/** An audit event as `fleet audit list -o json` prints it and `GET /v1/admin/audit` returns it. */
export interface AuditEventView {
  id: string;
  at: string;
  actor: { kind: Actor['kind']; id: string; name: string };
  action: string;
  connectorId: string | null;
  provinceCode: string | null;
  apiKeyId: string | null;
  definitionHashBefore: string | null;
  definitionHashAfter: string | null;
  details: Record<string, unknown>;
}

/** The view of an audit event row. */
export function auditEventView(row: AuditEventRow): AuditEventView {
  return {
    id: String(row.id),
    at: isoTime(row.at)!,
    actor: { kind: row.actor_kind, id: row.actor_id, name: row.actor_name },
    action: row.action,
    connectorId: row.connector_id,
    provinceCode: row.province_code,
    apiKeyId: row.api_key_id === null ? null : String(row.api_key_id),
    definitionHashBefore: row.definition_hash_before,
    definitionHashAfter: row.definition_hash_after,
    details: row.details,
  };
}

/** A page of events, and the cursor of the next (null: this was the last). */
export function auditListView(
  rows: readonly AuditEventRow[],
  limit: number,
): { events: AuditEventView[]; nextCursor: string | null } {
  return { events: rows.map(auditEventView), nextCursor: rows.length === limit ? String(rows.at(-1)!.id) : null };
}
