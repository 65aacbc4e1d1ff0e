import { readFile } from 'node:fs/promises';
import { stringify as toYaml } from 'yaml';
import type { Config } from '../../config/env.js';
import { DefinitionError } from '../../connectors/definition.js';
import type { ConnectorStatusRow } from '../../db/queries/connectors.js';
import { checkConnector, emptyPageHint, type CheckResult } from '../../connectors/check-connector.js';
import {
  ConnectorRegistry,
  connectorSettings,
  definitionFromText,
  definitionOf,
  RegistryError,
  type StateChange,
  type SubmittedDefinition,
} from '../../workers/registry/connector-registry.js';
import { UsageError } from './cli-errors.js';
import { formatTable, formatTime, withDatabase } from './cli-output.js';

// `fleet connector add|update|list|show|check|pause|resume|remove`: the connector registry on the command line.
// It only writes the `connectors` table; the scheduler follows within one refresh (5 s).

function truncate(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Registry errors are bad input on the command line: exit 2, one line. */
async function registry<T>(config: Config, verb: string, work: (registry: ConnectorRegistry) => Promise<T>): Promise<T> {
  try {
    return await withDatabase(config, (db) => work(new ConnectorRegistry(db)));
  } catch (error) {
    if (error instanceof RegistryError) throw new UsageError(`fleet connector ${verb}: ${error.message}`);
    throw error;
  }
}

/** Reads and validates a definition file; every problem on its own line, exit 2, before anything is stored. */
export async function readDefinitionFile(path: string): Promise<SubmittedDefinition> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`fleet connector: --file ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'}); expected a connector definition file (YAML or JSON)`);
  }
  try {
    return definitionFromText(text, path);
  } catch (error) {
    if (error instanceof DefinitionError) throw new UsageError(error.problems.join('\n'));
    throw error;
  }
}

function describe(row: ConnectorStatusRow): string {
  return `${row.kind}, province ${row.province_code}`;
}

function pollEvery(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** `fleet connector add --file def.yaml`: validates, stores and schedules a new connector. */
export async function connectorAdd(config: Config, file: string): Promise<void> {
  const submitted = await readDefinitionFile(file);
  const { outcome, connector } = await registry(config, 'add', (connectors) => connectors.add(submitted));
  const again = outcome === 'reactivated' ? ' again: it was removed, and its cursor and data were kept' : '';
  console.log(`added connector ${connector.id} (${describe(connector)})${again}; active, polled every ${pollEvery(connector.poll_interval_ms)} from the scheduler's next refresh`);
}

/** `fleet connector update --file def.yaml`: replaces a registered connector's definition, keeping its state and cursor. */
export async function connectorUpdate(config: Config, file: string, id?: string): Promise<void> {
  const submitted = await readDefinitionFile(file);
  if (id !== undefined && id !== submitted.definition.id) {
    throw new UsageError(`fleet connector update: ${file} defines connector ${submitted.definition.id}, not ${id}; expected the id of the connector to update`);
  }
  const connector = await registry(config, 'update', (connectors) => connectors.update(submitted));
  console.log(`updated connector ${connector.id} (${describe(connector)}): ${connector.state}, polled every ${pollEvery(connector.poll_interval_ms)}`);
}

function compactJson(value: unknown, max: number): string {
  if (value === null || value === undefined) return '-';
  return truncate(JSON.stringify(value), max);
}

/** `fleet connector list`: one line per connector. */
export async function connectorList(config: Config, options: { all: boolean }): Promise<void> {
  const rows = await registry(config, 'list', (connectors) => connectors.list({ includeRemoved: options.all }));
  if (rows.length === 0) {
    console.log('no connectors registered; add one with: fleet connector add --file definition.yaml');
    return;
  }
  console.log(
    formatTable(
      ['ID', 'PROVINCE', 'KIND', 'STATE', 'BREAKER', 'LAST SUCCESS', 'LAST ERROR', 'CURSOR'],
      rows.map((row) => [
        row.id,
        row.province_code,
        row.kind,
        row.state,
        row.breaker_state ?? '-',
        formatTime(row.last_success_at),
        row.last_error ? `${formatTime(row.last_error_at)} ${truncate(row.last_error, 50)}` : '-',
        compactJson(row.cursor_position, 70),
      ]),
    ),
  );
}

/** `fleet connector show ID`: its state and cursor as comments, then the stored definition as YAML. */
export async function connectorShow(config: Config, id: string): Promise<void> {
  const row = await registry(config, 'show', (connectors) => connectors.get(id));
  const comment = (text: string) => `# ${text.replace(/\s+/g, ' ')}`;
  const lines = [
    comment(`connector ${row.id} (${describe(row)}, code set ${row.code_set}): ${row.state}`),
    comment(`last success: ${formatTime(row.last_success_at)}; last error: ${row.last_error ? `${formatTime(row.last_error_at)} ${row.last_error}` : '-'}`),
    comment(
      row.cursor_position === null
        ? 'cursor: none yet (the first run reads from the beginning)'
        : `cursor: ${JSON.stringify(row.cursor_position)} (${row.records_committed} records committed, moved ${formatTime(row.cursor_updated_at)})`,
    ),
    comment(`registered ${formatTime(row.created_at)}, definition updated ${formatTime(row.updated_at)}`),
  ];
  console.log(`${lines.join('\n')}\n${toYaml(definitionOf(row)).trimEnd()}`);
}

function printStateChange(change: StateChange, verb: string, done: string): void {
  const { connector, previous } = change;
  if (previous === connector.state) console.log(`connector ${connector.id} is already ${connector.state}; nothing changed`);
  else console.log(`${verb} connector ${connector.id}: ${done}`);
}

/** `fleet connector pause ID`. */
export async function connectorPause(config: Config, id: string): Promise<void> {
  printStateChange(await registry(config, 'pause', (connectors) => connectors.pause(id)), 'paused', 'no new poll runs are scheduled (within 5 s); its cursor and data are kept');
}

/** `fleet connector resume ID`. */
export async function connectorResume(config: Config, id: string): Promise<void> {
  printStateChange(await registry(config, 'resume', (connectors) => connectors.resume(id)), 'resumed', 'poll runs are scheduled again (within 5 s), from its committed cursor');
}

/** `fleet connector remove ID`. */
export async function connectorRemove(config: Config, id: string): Promise<void> {
  printStateChange(
    await registry(config, 'remove', (connectors) => connectors.remove(id)),
    'removed',
    'it is no longer scheduled (within 5 s); its dossiers, cursor and dead letters are kept, and add registers it again',
  );
}

/** The report of a check, for the terminal. */
export function formatCheck(result: CheckResult): { out: string[]; err: string[] } {
  const out = [`check of connector ${result.connectorId} (${result.kind}, province ${result.provinceCode}): reads one page, writes nothing`];
  if (!result.ok) {
    const label = {
      configuration: 'cannot build the connector',
      connection: 'could not connect',
      authentication: 'connected, but authentication failed',
      request: 'could not read the first page',
      read: 'failed',
    }[result.stage];
    return { out, err: [`${label}: ${result.message}`] };
  }
  out.push(`connected and authenticated; read ${result.recordsRead} records on the first page${result.hasMore ? ' (the source has more pages; check reads only the first)' : ''}`);
  if (result.recordsRead === 0) {
    out.push(emptyPageHint);
    return { out, err: [] };
  }
  const { stored, deadLettered } = result;
  out.push(`${stored.count} would be stored${stored.examples.length > 0 ? ', for example:' : ''}`);
  for (const record of stored.examples) {
    const status = String(record.status) === record.sourceStatus ? `status ${record.status}` : `status ${record.status} (source ${JSON.stringify(record.sourceStatus)})`;
    out.push(`  ${record.dossierCode}  ${status}  submitted ${formatTime(record.submittedAt)}  due ${formatTime(record.dueAt)}  updated ${formatTime(record.sourceUpdatedAt)}`);
  }
  out.push(`${deadLettered.count} would be dead-lettered${deadLettered.count > 0 ? ':' : ''}`);
  for (const group of deadLettered.byReason) {
    out.push(`  ${group.reason}: ${group.count}`);
    for (const letter of group.examples) out.push(`    ${letter.dossierCode ?? '(no dossier code)'}: ${letter.message}`);
    if (group.count > group.examples.length) out.push(`    … and ${group.count - group.examples.length} more`);
  }
  return { out, err: [] };
}

/**
 * `fleet connector check --file def.yaml | ID`: connects, authenticates, reads and maps one page, and prints
 * what would be stored and dead-lettered. Exit 1 when the system cannot be read. Never writes.
 */
export async function connectorCheck(config: Config, id: string | undefined, file: string | undefined): Promise<number> {
  if ((id === undefined) === (file === undefined)) {
    throw new UsageError('fleet connector check: expected either a connector id or --file definition.yaml, not both or neither');
  }
  // A file is checked without touching the database at all.
  const settings = file !== undefined ? (await readDefinitionFile(file)).definition : connectorSettings(await registry(config, 'check', (connectors) => connectors.get(id!)));
  const result = await checkConnector(settings);
  const { out, err } = formatCheck(result);
  for (const line of out) console.log(line);
  for (const line of err) console.error(line);
  return result.ok ? 0 : 1;
}
