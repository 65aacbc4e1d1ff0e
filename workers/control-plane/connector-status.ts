import type { Kysely } from 'kysely';
import type { CodeSet } from '../../config/provinces.js';
import type { Cursor, Json } from '../../connectors/sdk/connector.js';
import { isPolled } from '../../connectors/plugins.js';
import { fromStorableJsonb } from '../../connectors/sdk/storable-text.js';
import { walkOf } from '../../connectors/sdk/walk-cursor.js';
import {
  findConnectorActivity,
  type ConnectorActivityRow,
  type PollRunOutcome,
} from '../../db/queries/connector-activity.js';
import type { ConnectorStatusRow } from '../../db/queries/connectors.js';
import { countStoredDossiers } from '../../db/queries/stored-dossiers.js';
import type { Database } from '../../db/schema.js';
import { ConnectorRegistry, connectorSettings } from './connector-registry.js';
import type { ProvinceBoundKey } from './province-scope.js';
import { isoTime } from './view-time.js';

/** A connector's current (or last) poll run, as its poller published it page by page. */
export interface PollRunView {
  /** `running` until it ends; `continued`: it read its most pages and a new run carries on at once. */
  outcome: PollRunOutcome;
  startedAt: string;
  /** When its last page was handed to the writer; null before the first. */
  lastPageAt: string | null;
  endedAt: string | null;
  /** Pages handed to the writer, and their records and dead letters. */
  pages: number;
  records: number;
  deadLetters: number;
  /**
   * Records and dead letters per second, from the start to the last page (to the end, once ended); null before a page.
   */
  recordsPerSecond: number | null;
}

/** The committed cursor, as a person reads it. */
export interface PositionView {
  /**
   * The connector's own part: for a keyset, the update time and last dossier code (`updatedSince`, `afterCode`;
   * `since`).
   */
  source: Json;
  /** The walk of the source the cursor is in (connectors/sdk/walk-cursor.ts); null for a cursor without one. */
  walk: { number: number; pages: number; startedAt: string | null; complete: boolean } | null;
  /** When it last moved (with the records of its page). */
  movedAt: string | null;
  /** The cursor as committed. */
  cursor: Json;
}

/** Where a connector's sync stands: `fleet connector status ID` and `GET /v1/admin/connectors/{id}/status`. */
export interface ConnectorStatusView {
  id: string;
  provinceCode: string;
  codeSet: CodeSet;
  kind: string;
  state: ConnectorStatusRow['state'];
  /** False for a connector whose system only pushes: no runs, no cursor. */
  polled: boolean;
  /** The circuit breaker as the pollers last recorded it; null before any change. */
  breaker: { state: NonNullable<ConnectorStatusRow['breaker_state']>; changedAt: string | null } | null;
  /** Dossiers whose stored state this connector wrote, counted in `dossiers`. */
  storedDossiers: number;
  lastSuccessAt: string | null;
  /** The last poll run's failure (no secret, no personal data); `followedBySuccess` once a later run succeeded. */
  lastError: { message: string; at: string | null; followedBySuccess: boolean } | null;
  run: PollRunView | null;
  position: PositionView | null;
  /** Pushed updates (records and dead letters) committed, and when the newest was received and committed. */
  pushes: { updates: number; lastReceivedAt: string | null; lastCommittedAt: string | null };
}

const walkKeys = new Set(['walk', 'pages', 'walkStartedAt', 'resume']);

function positionOf(row: ConnectorStatusRow): PositionView | null {
  if (row.cursor_position === null || row.cursor_position === undefined) return null;
  const cursor = fromStorableJsonb(row.cursor_position) as Cursor;
  const walk = walkOf(cursor);
  const source =
    cursor !== null && typeof cursor === 'object' && !Array.isArray(cursor)
      ? Object.fromEntries(Object.entries(cursor).filter(([key]) => !walkKeys.has(key)))
      : cursor;
  return {
    source,
    walk:
      walk.walk === 0
        ? null
        : { number: walk.walk, pages: walk.pages, startedAt: walk.walkStartedAt, complete: walk.resume === null },
    movedAt: isoTime(row.cursor_updated_at),
    cursor,
  };
}

function runOf(activity: ConnectorActivityRow | undefined): PollRunView | null {
  if (!activity?.run_started_at || !activity.run_outcome) return null;
  const startedAt = new Date(activity.run_started_at);
  const until = activity.run_ended_at ?? activity.run_last_page_at;
  const seconds = until === null ? 0 : (new Date(until).getTime() - startedAt.getTime()) / 1000;
  const moved = activity.run_records + activity.run_dead_letters;
  return {
    outcome: activity.run_outcome,
    startedAt: startedAt.toISOString(),
    lastPageAt: isoTime(activity.run_last_page_at),
    endedAt: isoTime(activity.run_ended_at),
    pages: activity.run_pages,
    records: activity.run_records,
    deadLetters: activity.run_dead_letters,
    recordsPerSecond: activity.run_pages > 0 && seconds > 0 ? Math.round((moved / seconds) * 10) / 10 : null,
  };
}

/**
 * The status of one connector; RegistryError `not_found` when it is not registered, or belongs to a province the key
 * (`scope`; none: national) does not hold.
 */
export async function connectorStatus(
  db: Kysely<Database>,
  id: string,
  scope?: ProvinceBoundKey | null,
): Promise<ConnectorStatusView> {
  const row = await new ConnectorRegistry(db).get(id, scope);
  const [activity, storedDossiers] = await Promise.all([findConnectorActivity(db, id), countStoredDossiers(db, id)]);
  const polled = isPolled(connectorSettings(row));
  const lastError = row.last_error
    ? {
        message: row.last_error,
        at: isoTime(row.last_error_at),
        followedBySuccess:
          row.last_success_at !== null &&
          row.last_error_at !== null &&
          new Date(row.last_success_at) > new Date(row.last_error_at),
      }
    : null;
  return {
    id: row.id,
    provinceCode: row.province_code,
    codeSet: row.code_set as CodeSet,
    kind: row.kind,
    state: row.state,
    polled,
    breaker: row.breaker_state ? { state: row.breaker_state, changedAt: isoTime(row.breaker_changed_at) } : null,
    storedDossiers,
    lastSuccessAt: isoTime(row.last_success_at),
    lastError,
    run: polled ? runOf(activity) : null,
    position: polled ? positionOf(row) : null,
    pushes: {
      updates: Number(activity?.push_updates ?? 0),
      lastReceivedAt: isoTime(activity?.push_last_received_at),
      lastCommittedAt: isoTime(activity?.push_last_committed_at),
    },
  };
}
