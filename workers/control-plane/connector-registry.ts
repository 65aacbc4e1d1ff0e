import type { Kysely } from 'kysely';
import { parse as parseYaml } from 'yaml';
import { parseDefinition, parseDefinitionText } from './definition.js';
import type { RegisteredConnector } from '../../connectors/plugins.js';
import { sectionNames } from '../../connectors/declarative/declarative-config.js';
import type { RequestErrorCode } from '../../config/error-catalogue.js';
import { currentProvinceCode, type CodeSet } from '../../config/provinces.js';
import { insertAuditEvent } from '../../db/queries/audit-events.js';
import {
  addConnector,
  lockConnector,
  findConnectorStatus,
  listConnectorStatus,
  setConnectorState,
  updateConnectorDefinition,
  type ConnectorDefinition,
  type ConnectorRow,
  type ConnectorStatusRow,
} from '../../db/queries/connectors.js';
import type { Database } from '../../db/schema.js';
import { actorColumns, definitionHash, type Actor, type AuditAction } from './audit.js';
import { connectorProvince, holdingPhrase, holds, isProvinceBound, type ProvinceBoundKey } from './province-scope.js';

/**
 * The connector registry: the operations `fleet connector …` and the admin API (`/v1/admin/connectors`) share.
 * It only writes the `connectors` table; the scheduler brings the poll schedules in line within one refresh.
 */

/** Why a registry operation cannot be done: codes of the error catalogue. */
export type RegistryErrorCode = Extract<RequestErrorCode, 'not_found' | 'conflict' | 'forbidden'>;

/**
 * A registry operation that cannot be done: the connector does not exist, or belongs to a province the key does not
 * hold (`not_found`, the same words either way), its state does not allow it (`conflict`), or a definition names a
 * province the key does not hold (`forbidden`).
 */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A definition that validated, and the document it came from (stored as submitted, shown by `show`). */
export interface SubmittedDefinition {
  definition: ConnectorDefinition;
  document: unknown;
}

/** Reads a definition file's text (YAML or JSON); throws DefinitionError naming every problem. */
export function definitionFromText(text: string, fileName: string): SubmittedDefinition {
  const definition = parseDefinitionText(text, fileName);
  // The same options as parseDefinitionText, which has just accepted the text.
  return { definition, document: parseYaml(text, { uniqueKeys: true, maxAliasCount: 50 }) as unknown };
}

/** Validates an already parsed definition (a JSON request body); throws DefinitionError naming every problem. */
export function definitionFromDocument(document: unknown): SubmittedDefinition {
  return { definition: parseDefinition(document), document };
}

/** The settings `createConnector` builds a connector from, out of a stored row. */
export function connectorSettings(row: ConnectorRow): RegisteredConnector {
  return {
    id: row.id,
    sourceProvinceCode: row.province_code,
    sourceCodeSet: row.code_set as CodeSet,
    kind: row.kind,
    config: row.config,
  };
}

/**
 * The definition a connector was registered with; for one registered without a definition (before the registry
 * existed), the equivalent definition rebuilt from its settings.
 */
export function definitionOf(row: ConnectorRow): unknown {
  if (row.definition !== null && row.definition !== undefined) return inFileOrder(row.definition);
  const sections =
    row.kind === 'declarative'
      ? (row.config as Record<string, unknown>)
      : { plugin: { name: row.kind, config: row.config } };
  return {
    id: row.id,
    ...(row.description ? { description: row.description } : {}),
    province: { code: row.province_code, codeSet: row.code_set },
    schedule: { pollIntervalSeconds: row.poll_interval_ms / 1000 },
    ...sections,
  };
}

/**
 * Keys in the order a definition file writes them (declarative/README.md): jsonb stores keys in its own order
 * (shortest first), which would put `id` after `http`. Keys not named here keep their stored order.
 */
const keyOrder: readonly string[] = [
  'id',
  'description',
  'province',
  'schedule',
  'plugin',
  ...sectionNames,
  'type',
  'name',
  'code',
  'codeSet',
  'baseUrl',
  'path',
  'config',
  'dossierCode',
  'status',
];

function rank(key: string): number {
  const index = keyOrder.indexOf(key);
  return index === -1 ? keyOrder.length : index;
}

/** A stored definition with its keys, at every level, back in file order. */
function inFileOrder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(inFileOrder);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => rank(a) - rank(b));
  return Object.fromEntries(entries.map(([key, inner]) => [key, inFileOrder(inner)]));
}

/** Who makes a registry change: recorded in the audit trail in the change's transaction. */
export interface ChangeOptions {
  /** Who makes the change, for the audit trail. */
  actor: Actor;
  /** The asking API key: a province-bound key reaches only its provinces' connectors. Default: national. */
  scope?: ProvinceBoundKey | null;
}

/** The audit trail's columns of a change to a connector: its current province, and its definition's hash. */
function connectorColumns(row: ConnectorRow) {
  return {
    connector_id: row.id,
    province_code: currentProvinceCode(row.province_code, row.code_set as CodeSet),
  };
}

/** What a state change did: the state before, and the connector after. */
export interface StateChange {
  previous: ConnectorRow['state'];
  connector: ConnectorStatusRow;
}

/**
 * The registry's operations. Each takes the key that asks (`scope`; none: the CLI, national): a connector of a
 * province the key does not hold is answered exactly as an unknown one, so a key learns nothing of other provinces.
 */
export class ConnectorRegistry {
  constructor(private readonly db: Kysely<Database>) {}

  /** Every connector with its cursor that the key reaches; removed ones only when asked for. */
  async list(
    options: { includeRemoved?: boolean } = {},
    scope?: ProvinceBoundKey | null,
  ): Promise<ConnectorStatusRow[]> {
    const rows = await listConnectorStatus(this.db, options);
    return isProvinceBound(scope) ? rows.filter((row) => holds(scope, connectorProvince(row))) : rows;
  }

  /** One connector with its cursor, whatever its state; RegistryError `not_found` when the key reaches none. */
  async get(id: string, scope?: ProvinceBoundKey | null): Promise<ConnectorStatusRow> {
    const row = await findConnectorStatus(this.db, id);
    if (!row || !holds(scope, connectorProvince(row)))
      throw new RegistryError('not_found', `connector ${id} is not registered`);
    return row;
  }

  /** Registers a new connector, active (scheduled); a removed one comes back with the new definition. */
  async add(
    { definition, document }: SubmittedDefinition,
    { actor, scope }: ChangeOptions,
  ): Promise<{ outcome: 'added' | 'reactivated'; connector: ConnectorStatusRow }> {
    this.mayDefine(definition, scope);
    // Ids are one namespace: an id another province uses (even removed) is refused as taken, without saying whose, so
    // a key cannot take over another province's removed connector and the history under its id.
    if (isProvinceBound(scope)) {
      const existing = await findConnectorStatus(this.db, definition.id);
      if (existing && !holds(scope, connectorProvince(existing)))
        throw new RegistryError('conflict', `connector id ${definition.id} is already taken; choose another id`);
    }
    const outcome = await this.db.transaction().execute(async (trx) => {
      const before = await lockConnector(trx, definition.id);
      const outcome = await addConnector(trx, { ...definition, definition: document });
      if (outcome === 'exists')
        throw new RegistryError(
          'conflict',
          `connector ${definition.id} already exists; use update to change its definition`,
        );
      const after = (await lockConnector(trx, definition.id))!;
      await insertAuditEvent(trx, {
        ...actorColumns(actor),
        action: 'connector.add',
        ...connectorColumns(after),
        definition_hash_before: before ? definitionHash(definitionOf(before)) : null,
        definition_hash_after: definitionHash(definitionOf(after)),
        details: { outcome },
      });
      return outcome;
    });
    return { outcome, connector: await this.get(definition.id) };
  }

  /** Replaces a registered connector's definition; its state, cursor and data are kept. */
  async update(
    { definition, document }: SubmittedDefinition,
    { actor, scope }: ChangeOptions,
  ): Promise<ConnectorStatusRow> {
    this.mayDefine(definition, scope);
    const unknown = new RegistryError(
      'not_found',
      `connector ${definition.id} is not registered; use add to register it`,
    );
    await this.db.transaction().execute(async (trx) => {
      const before = await lockConnector(trx, definition.id);
      // Another province's connector is answered as an unknown one, unchanged.
      if (!before || (isProvinceBound(scope) && !holds(scope, connectorProvince(before)))) throw unknown;
      if (!(await updateConnectorDefinition(trx, { ...definition, definition: document })))
        throw new RegistryError('conflict', `connector ${definition.id} is removed; use add to register it again`);
      const after = (await lockConnector(trx, definition.id))!;
      await insertAuditEvent(trx, {
        ...actorColumns(actor),
        action: 'connector.update',
        ...connectorColumns(after),
        definition_hash_before: definitionHash(definitionOf(before)),
        definition_hash_after: definitionHash(definitionOf(after)),
      });
    });
    return this.get(definition.id);
  }

  /** Stops scheduling poll runs (a run in progress finishes its page); the cursor and data are kept. */
  pause(id: string, options: ChangeOptions): Promise<StateChange> {
    return this.move(id, 'paused', ['active'], 'connector.pause', options);
  }

  /** Schedules poll runs again, from the committed cursor. */
  resume(id: string, options: ChangeOptions): Promise<StateChange> {
    return this.move(id, 'active', ['paused'], 'connector.resume', options);
  }

  /** Stops scheduling for good; its dossiers, cursor and dead letters are kept, and add registers it again. */
  remove(id: string, options: ChangeOptions): Promise<StateChange> {
    return this.move(id, 'removed', ['active', 'paused'], 'connector.remove', options);
  }

  /** A definition may only name a province the key holds: 403, naming the key's own provinces and nothing else. */
  private mayDefine(definition: ConnectorDefinition, scope: ProvinceBoundKey | null | undefined): void {
    if (!isProvinceBound(scope)) return;
    const provinceCode = currentProvinceCode(definition.sourceProvinceCode, definition.sourceCodeSet);
    if (holds(scope, provinceCode)) return;
    const asWritten =
      definition.sourceCodeSet === '2008'
        ? `${definition.sourceProvinceCode} (2008 code set, now ${provinceCode})`
        : provinceCode;
    throw new RegistryError(
      'forbidden',
      `${holdingPhrase(scope)}; the definition's province ${asWritten} is not among them`,
    );
  }

  /** Moves a connector's state; only a move that happened is recorded (pausing a paused connector changes nothing). */
  private async move(
    id: string,
    state: ConnectorRow['state'],
    from: ConnectorRow['state'][],
    action: AuditAction,
    { actor, scope }: ChangeOptions,
  ): Promise<StateChange> {
    // A province key's connector is looked up first: another province's is answered as an unknown one, unchanged.
    if (isProvinceBound(scope)) await this.get(id, scope);
    const previous = await this.db.transaction().execute(async (trx) => {
      const row = await lockConnector(trx, id);
      const previous = await setConnectorState(trx, id, state, from);
      if (!row || previous === undefined) throw new RegistryError('not_found', `connector ${id} is not registered`);
      if (previous === 'removed' && state !== 'removed')
        throw new RegistryError('conflict', `connector ${id} is removed; use add to register it again`);
      if (previous !== state && from.includes(previous))
        await insertAuditEvent(trx, {
          ...actorColumns(actor),
          action,
          ...connectorColumns(row),
          details: { from: previous, to: state },
        });
      return previous;
    });
    return { previous, connector: await this.get(id) };
  }
}
