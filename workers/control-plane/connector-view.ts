import type { CodeSet } from '../../config/provinces.js';
import { isPolled } from '../../connectors/plugins.js';
import type { ConnectorStatusRow } from '../../db/queries/connectors.js';
import { connectorSettings, definitionOf } from './connector-registry.js';
import { isoTime } from './view-time.js';

// A connector as the admin API returns it and `fleet connector … -o json` prints it: one view, built here.

/** A connector as listed: state, schedule, last success and error, cursor. */
export interface ConnectorSummaryView {
  id: string;
  description: string | null;
  provinceCode: string;
  codeSet: CodeSet;
  kind: string;
  state: ConnectorStatusRow['state'];
  /** False for a connector whose system only pushes: never polled, no cursor. */
  polled: boolean;
  pollIntervalMs: number;
  createdAt: string;
  updatedAt: string;
  lastSuccessAt: string | null;
  lastErrorAt: string | null;
  lastError: string | null;
  /** The committed position in the source; null before the first committed page. */
  cursor: { position: unknown; recordsCommitted: number; updatedAt: string | null } | null;
}

/** A connector with its definition (as submitted) and its kind's validated configuration. */
export interface ConnectorView extends ConnectorSummaryView {
  definition: unknown;
  config: unknown;
}

/** The view of a connector row: the summary, or with `detail` its definition and configuration too. */
export function connectorView(row: ConnectorStatusRow, detail: true): ConnectorView;
export function connectorView(row: ConnectorStatusRow, detail: false): ConnectorSummaryView;
export function connectorView(row: ConnectorStatusRow, detail: boolean): ConnectorSummaryView | ConnectorView {
  const summary: ConnectorSummaryView = {
    id: row.id,
    description: row.description,
    provinceCode: row.province_code,
    codeSet: row.code_set as CodeSet,
    kind: row.kind,
    state: row.state,
    polled: isPolled(connectorSettings(row)),
    pollIntervalMs: row.poll_interval_ms,
    createdAt: isoTime(row.created_at)!,
    updatedAt: isoTime(row.updated_at)!,
    lastSuccessAt: isoTime(row.last_success_at),
    lastErrorAt: isoTime(row.last_error_at),
    lastError: row.last_error,
    cursor:
      row.cursor_position === null || row.cursor_position === undefined
        ? null
        : {
            position: row.cursor_position,
            recordsCommitted: Number(row.records_committed ?? 0),
            updatedAt: isoTime(row.cursor_updated_at),
          },
  };
  return detail ? { ...summary, definition: definitionOf(row), config: row.config } : summary;
}

/** The list of connectors, as `GET /v1/admin/connectors` returns it. */
export function connectorListView(rows: readonly ConnectorStatusRow[]): { connectors: ConnectorSummaryView[] } {
  return { connectors: rows.map((row) => connectorView(row, false)) };
}
