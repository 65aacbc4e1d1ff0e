import { sql, type Kysely } from 'kysely';
import type { Cursor } from '../../connectors/sdk/connector.js';
import { fromStorableJsonb, toStorableJsonb } from '../../connectors/sdk/storable-text.js';
import type { Database } from '../schema.js';

/** The committed cursor of a connector, or null before its first committed page. */
export async function readCursor(db: Kysely<Database>, connectorId: string): Promise<Cursor | null> {
  const row = await db
    .selectFrom('sync_cursors')
    .select('position')
    .where('connector_id', '=', connectorId)
    .executeTakeFirst();
  return row ? (fromStorableJsonb(row.position) as Cursor) : null;
}

/**
 * A cursor as its jsonb column holds it. A cursor is made of what the source wrote (the last record's dossier
 * code, a next link) and is sent back to it as it is, so text jsonb refuses (NUL) is kept exactly, wrapped as
 * JSON text, rather than escaped or dropped.
 */
const positionJson = (cursor: Cursor) => JSON.stringify(toStorableJsonb(cursor));

/** A cursor move carried by an ingest batch: from where the page was read, to just after it. */
export interface CursorMove {
  /** The committed position the page was read after (null: the connector had none). */
  before: Cursor | null;
  /** The position just after the page. */
  after: Cursor;
}

/**
 * Moves a connector's cursor, inside the transaction that stores the records it covers (guarantee 1). It moves
 * only from the position the page was read after, so a stale or repeated batch can never move it backwards or
 * past a page not yet committed. Returns whether it moved.
 */
export async function commitCursor(
  db: Kysely<Database>,
  connectorId: string,
  move: CursorMove,
  records: number,
): Promise<boolean> {
  const after = positionJson(move.after);
  const result =
    move.before === null
      ? await sql`
          INSERT INTO sync_cursors (connector_id, position, records_committed) VALUES (${connectorId}, ${after}::jsonb, ${records})
          ON CONFLICT (connector_id) DO NOTHING`.execute(db)
      : await sql`
          UPDATE sync_cursors SET position = ${after}::jsonb, records_committed = records_committed + ${records}, updated_at = now()
          WHERE connector_id = ${connectorId} AND position = ${positionJson(move.before)}::jsonb`.execute(db);
  return Number(result.numAffectedRows ?? 0) === 1;
}
