import type { Insertable, Kysely, Selectable } from 'kysely';
import type { AuditEventsTable, Database } from '../schema.js';

/** A stored audit event. */
export type AuditEventRow = Selectable<AuditEventsTable>;

/** What is recorded of one change; `at` and `id` are the database's. */
export type NewAuditEvent = Omit<Insertable<AuditEventsTable>, 'details'> & { details?: Record<string, unknown> };

/**
 * Records one change. Give it the transaction that made the change, so a change is never committed unrecorded (and
 * a change rolled back leaves no record).
 */
export async function insertAuditEvent(db: Kysely<Database>, event: NewAuditEvent): Promise<void> {
  await insertAuditEvents(db, [event]);
}

/** Records several changes at once (one per connector a bulk operation touched), in the caller's transaction. */
export async function insertAuditEvents(db: Kysely<Database>, events: readonly NewAuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('audit_events')
    .values(events.map(({ details, ...event }) => ({ ...event, details: JSON.stringify(details ?? {}) })))
    .execute();
}

/** Which events to list. */
export interface AuditEventFilter {
  /** Only events on this connector. */
  connectorId?: string;
  /** Only events at or after this time. */
  since?: Date;
  /**
   * Only events on connectors of these current province codes (a province key's); null: every event (a national
   * key, the CLI). Events on no connector (key changes) are national.
   */
  provinces: readonly string[] | null;
}

/** Events oldest first, after `afterId` (keyset: the last id of the previous page), at most `limit`. */
export async function listAuditEvents(
  db: Kysely<Database>,
  filter: AuditEventFilter,
  page: { afterId?: string; limit: number },
): Promise<AuditEventRow[]> {
  let query = db.selectFrom('audit_events').selectAll().orderBy('id').limit(page.limit);
  if (page.afterId !== undefined) query = query.where('id', '>', page.afterId);
  if (filter.connectorId !== undefined) query = query.where('connector_id', '=', filter.connectorId);
  if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
  if (filter.provinces !== null) {
    if (filter.provinces.length === 0) return [];
    query = query.where('province_code', 'in', [...filter.provinces]);
  }
  return query.execute();
}
