import type { Config } from '../../../config/env.js';
import type { Json } from '../../../connectors/sdk/connector.js';
import { RegistryError } from '../../../workers/control-plane/connector-registry.js';
import {
  connectorStatus,
  type ConnectorStatusView,
  type PollRunView,
  type PositionView,
} from '../../../workers/control-plane/connector-status.js';
import { NotFoundError } from '../cli-errors.js';
import { formatTime, withDatabase } from '../cli-output.js';
import { printView, type OutputFormat } from '../output-format.js';

// `fleet connector status ID [-o json]`: where a connector's sync stands, while it runs. The view is the admin
// API's (`GET /v1/admin/connectors/{id}/status`); the text is for a person.

const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

/** A cursor's own part as `key value` pairs: `updatedSince 20261202071224, afterCode 79.2026.019915`. */
function formatSource(source: Json): string {
  if (source === null || typeof source !== 'object' || Array.isArray(source)) return JSON.stringify(source);
  const pairs = Object.entries(source).map(
    ([key, value]) => `${key} ${typeof value === 'string' ? value : JSON.stringify(value)}`,
  );
  return pairs.length > 0 ? pairs.join(', ') : '{}';
}

function formatRun(run: PollRunView): string {
  const figures = [
    plural(run.pages, 'page'),
    plural(run.records, 'record'),
    plural(run.deadLetters, 'dead letter'),
    `${run.recordsPerSecond ?? '-'} records/s`,
  ].join(', ');
  if (run.outcome === 'running') {
    return `run: running since ${formatTime(run.startedAt)}: ${figures}; ${run.lastPageAt ? `last page ${formatTime(run.lastPageAt)}` : 'no page yet'}`;
  }
  const ended = {
    caught_up: 'caught up',
    continued: 'read its most pages; a new run carries on',
    failed: 'failed (last error below)',
    interrupted: 'interrupted (shutdown)',
  }[run.outcome];
  return `last run: ${formatTime(run.startedAt)} to ${formatTime(run.endedAt)}, ${ended}: ${figures}`;
}

function formatPosition(position: PositionView | null): string {
  if (position === null) return 'position: none yet (the first run reads from the beginning)';
  const { walk } = position;
  const walked =
    walk === null
      ? ''
      : `; walk ${walk.number}${walk.startedAt ? ` (began ${formatTime(walk.startedAt)})` : ''}: ${plural(walk.pages, 'page')} read${walk.complete ? ', complete' : ' so far'}`;
  return `position: ${formatSource(position.source)}${walked}; moved ${formatTime(position.movedAt)}`;
}

/** The status for the terminal, one line per part. */
export function formatStatus(view: ConnectorStatusView): string[] {
  const breaker = view.breaker ? `; breaker ${view.breaker.state} since ${formatTime(view.breaker.changedAt)}` : '';
  const lines = [
    `connector ${view.id} (${view.kind}, province ${view.provinceCode}, code set ${view.codeSet}): ${view.state}${breaker}`,
    `stored: ${plural(view.storedDossiers, 'dossier')}`,
  ];
  if (view.polled) {
    lines.push(
      view.run ? formatRun(view.run) : 'run: none recorded yet',
      formatPosition(view.position),
      `last success: ${formatTime(view.lastSuccessAt)}`,
    );
  } else {
    lines.push('push-only: never polled (no runs, no position)');
  }
  const { lastError } = view;
  lines.push(
    lastError
      ? `last error: ${formatTime(lastError.at)} ${lastError.message}${lastError.followedBySuccess ? ' (a later run succeeded)' : ''}`
      : 'last error: -',
  );
  const { pushes } = view;
  lines.push(
    pushes.updates > 0
      ? `pushes: ${plural(pushes.updates, 'update')} committed; the newest received ${formatTime(pushes.lastReceivedAt)}, committed ${formatTime(pushes.lastCommittedAt)}`
      : 'pushes: none committed',
  );
  return lines;
}

/** `fleet connector status ID [-o json]`; a connector that is not registered is NotFoundError (exit 3). */
export async function connectorStatusCommand(
  config: Config,
  id: string,
  options: { output?: OutputFormat },
): Promise<void> {
  let view: ConnectorStatusView;
  try {
    view = await withDatabase(config, (db) => connectorStatus(db, id));
  } catch (error) {
    if (error instanceof RegistryError && error.code === 'not_found')
      throw new NotFoundError(`fleet connector status: ${error.message}`);
    throw error;
  }
  printView(view, options.output, formatStatus);
}
