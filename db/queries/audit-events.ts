import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
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
   * Only events of these current province codes (a province key's): on their connectors, and on keys bound to some
   * of them (a key event carries its key's provinces in `details`); null: every event (a national key, the CLI).
   * Events on a national key or on no connector nor key (a master key rotation) are national.
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
    const provinces = [...filter.provinces];
    if (provinces.length === 0) return [];
    const held = JSON.stringify(provinces);
    query = query.where((eb) =>
      eb.or([
        eb('province_code', 'in', provinces),
        eb.and([
          eb('api_key_id', 'is not', null),
          sql<boolean>`jsonb_typeof(details -> 'provinces') = 'array'`,
          sql<boolean>`details -> 'provinces' <@ ${held}::jsonb`,
        ]),
      ]),
    );
  }
  return query.execute();
}
