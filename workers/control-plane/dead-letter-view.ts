import type { DeadLetterRow } from '../../db/queries/dead-letters.js';
import { isoTime } from './view-time.js';

// A dead letter as `fleet dlq … -o json` prints it (and an admin route would return it): one view, built here.

/** A dead letter: where it came from, why it was not accepted, and its state. */
export interface DeadLetterSummaryView {
  id: string;
  connectorId: string;
  provinceCode: string | null;
  dossierCode: string | null;
  reason: string;
  message: string;
  state: 'new' | 'replayed' | 'discarded';
  receivedAt: string;
}

/** A dead letter with the record as received (personal data redacted when it was kept). */
export interface DeadLetterView extends DeadLetterSummaryView {
  rawPayload: unknown;
}

/** The view of a dead letter row: the summary, or with `detail` its raw payload too. */
export function deadLetterView(row: DeadLetterRow, detail: true): DeadLetterView;
export function deadLetterView(row: DeadLetterRow, detail: false): DeadLetterSummaryView;
export function deadLetterView(row: DeadLetterRow, detail: boolean): DeadLetterSummaryView | DeadLetterView {
  const summary: DeadLetterSummaryView = {
    id: String(row.id),
    connectorId: row.connector_id,
    provinceCode: row.province_code,
    dossierCode: row.dossier_code,
    reason: row.reason,
    message: row.message,
    state: row.state,
    receivedAt: isoTime(row.received_at)!,
  };
  return detail ? { ...summary, rawPayload: JSON.parse(row.raw_payload) as unknown } : summary;
}

/** Dead letters as listed: the counts by reason of every match, then the letters of this page. */
export interface DeadLetterListView {
  counts: { reason: string; count: number }[];
  deadLetters: DeadLetterSummaryView[];
}

/** The list view: counts by reason, and the page of letters shown. */
export function deadLetterListView(
  counts: readonly { reason: string; count: number }[],
  rows: readonly DeadLetterRow[],
): DeadLetterListView {
  return {
    counts: counts.map(({ reason, count }) => ({ reason, count })),
    deadLetters: rows.map((row) => deadLetterView(row, false)),
  };
}
