import { sql, type Kysely, type Selectable } from 'kysely';
import type { CodeSet } from '../../config/provinces.js';
import { inTransaction } from './in-transaction.js';
import type { ConnectorsTable, Database } from '../schema.js';

/** A registered connector as the workers use it. */
export type ConnectorRow = Selectable<ConnectorsTable>;

/** A validated connector definition, ready to store: what a `connectors` row holds. */
export interface ConnectorDefinition {
  id: string;
  /** One line on what system this is. */
  description?: string | null;
  /** The connector's province code, in its own code set (`sourceCodeSet`): the definition's province.code. */
  sourceProvinceCode: string;
  sourceCodeSet: CodeSet;
  /** `declarative`, or the plugin's name. */
  kind: string;
  /** The kind's validated configuration (secrets as references only). */
  config: unknown;
  pollIntervalMs: number;
}

/** Registers a connector, or updates its settings when the id exists (its cursor and state are kept). */
export async function saveConnector(db: Kysely<Database>, connector: ConnectorDefinition): Promise<void> {
  await db
    .insertInto('connectors')
    .values({
      id: connector.id,
      province_code: connector.sourceProvinceCode,
      code_set: connector.sourceCodeSet,
      kind: connector.kind,
      config: JSON.stringify(connector.config),
      poll_interval_ms: connector.pollIntervalMs,
      state: 'active',
    })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({
        province_code: connector.sourceProvinceCode,
        code_set: connector.sourceCodeSet,
        kind: connector.kind,
        config: JSON.stringify(connector.config),
        poll_interval_ms: connector.pollIntervalMs,
        // Settings written without a definition: a stored one would no longer describe them.
        definition: null,
        updated_at: sql<Date>`now()`,
      }),
    )
    .execute();
}

/** One connector by id, or undefined. */
export async function findConnector(db: Kysely<Database>, id: string): Promise<ConnectorRow | undefined> {
  return db.selectFrom('connectors').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Every connector that is not removed, by id. */
export async function listConnectors(db: Kysely<Database>): Promise<ConnectorRow[]> {
  return db.selectFrom('connectors').selectAll().where('state', '<>', 'removed').orderBy('id').execute();
}

/** Records the end of a successful poll run. */
export async function markConnectorSuccess(db: Kysely<Database>, id: string): Promise<void> {
  await db
    .updateTable('connectors')
    .set({ last_success_at: sql<Date>`now()` })
    .where('id', '=', id)
    .execute();
}

/** Records a change of a connector's circuit breaker state. */
export async function recordBreakerState(
  db: Kysely<Database>,
  id: string,
  state: 'closed' | 'half_open' | 'open',
): Promise<void> {
  await db
    .updateTable('connectors')
    .set({ breaker_state: state, breaker_changed_at: sql<Date>`now()` })
    .where('id', '=', id)
    .execute();
}

/** Records why a poll run failed; the message is the one logged (no secrets, no personal data). */
export async function markConnectorError(db: Kysely<Database>, id: string, message: string): Promise<void> {
  await db
    .updateTable('connectors')
    .set({ last_error: message.slice(0, 1000), last_error_at: sql<Date>`now()` })
    .where('id', '=', id)
    .execute();
}

/** What the registry stores for a connector: its settings and the definition they were validated from. */
export interface StoredDefinition extends ConnectorDefinition {
  /** The definition as submitted (secrets only as references). */
  definition: unknown;
}

/** What `addConnector` did: a new row, a removed connector registered again, or nothing (the id is taken). */
export type AddOutcome = 'added' | 'reactivated' | 'exists';

function definitionColumns(connector: StoredDefinition) {
  return {
    province_code: connector.sourceProvinceCode,
    code_set: connector.sourceCodeSet,
    kind: connector.kind,
    config: JSON.stringify(connector.config),
    poll_interval_ms: connector.pollIntervalMs,
    description: connector.description ?? null,
    definition: JSON.stringify(connector.definition),
  };
}

/**
 * Registers a new connector, active. An id whose connector was removed is registered again with the new
 * definition (its dossiers, cursor and dead letters were kept); any other existing id is left alone.
 */
export async function addConnector(db: Kysely<Database>, connector: StoredDefinition): Promise<AddOutcome> {
  const row = await db
    .insertInto('connectors')
    .values({ id: connector.id, ...definitionColumns(connector), state: 'active' })
    .onConflict((oc) =>
      oc
        .column('id')
        .doUpdateSet({ ...definitionColumns(connector), state: 'active', updated_at: sql<Date>`now()` })
        .where('connectors.state', '=', 'removed'),
    )
    // xmax is 0 for a row this statement inserted, the updating transaction's id for one it updated.
    .returning(sql<boolean>`xmax = 0`.as('inserted'))
    .executeTakeFirst();
  if (!row) return 'exists';
  return row.inserted ? 'added' : 'reactivated';
}

/**
 * Replaces the definition of a registered (not removed) connector, keeping its state and cursor; false if there is
 * none.
 */
export async function updateConnectorDefinition(db: Kysely<Database>, connector: StoredDefinition): Promise<boolean> {
  const result = await db
    .updateTable('connectors')
    .set({ ...definitionColumns(connector), updated_at: sql<Date>`now()` })
    .where('id', '=', connector.id)
    .where('state', '<>', 'removed')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Moves a connector to a state: the scheduler follows within one refresh. Only a connector in one of `from`
 * moves; returns the state it had before (undefined: no such connector), whether it moved or not.
 */
export async function setConnectorState(
  db: Kysely<Database>,
  id: string,
  state: ConnectorRow['state'],
  from: readonly ConnectorRow['state'][],
): Promise<ConnectorRow['state'] | undefined> {
  return inTransaction(db, async (trx) => {
    const row = await trx.selectFrom('connectors').select('state').where('id', '=', id).forUpdate().executeTakeFirst();
    if (!row) return undefined;
    if (row.state !== state && from.includes(row.state)) {
      await trx
        .updateTable('connectors')
        .set({ state, updated_at: sql<Date>`now()` })
        .where('id', '=', id)
        .execute();
    }
    return row.state;
  });
}

/**
 * A connector's row, locked until the end of the caller's transaction: a change reads what it replaces (for the
 * audit trail's definition hash) without another change slipping in between.
 */
export async function lockConnector(db: Kysely<Database>, id: string): Promise<ConnectorRow | undefined> {
  return db.selectFrom('connectors').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

/** A connector with its committed cursor: what `fleet connector list|show` and the admin API show. */
export interface ConnectorStatusRow extends ConnectorRow {
  cursor_position: unknown;
  records_committed: string | null;
  cursor_updated_at: Date | null;
}

function selectStatus(db: Kysely<Database>) {
  return db
    .selectFrom('connectors')
    .leftJoin('sync_cursors', 'sync_cursors.connector_id', 'connectors.id')
    .selectAll('connectors')
    .select([
      'sync_cursors.position as cursor_position',
      'sync_cursors.records_committed',
      'sync_cursors.updated_at as cursor_updated_at',
    ]);
}

/** Every connector with its cursor, by id; removed ones only when asked for. */
export async function listConnectorStatus(
  db: Kysely<Database>,
  options: { includeRemoved?: boolean } = {},
): Promise<ConnectorStatusRow[]> {
  let query = selectStatus(db).orderBy('connectors.id');
  if (!options.includeRemoved) query = query.where('connectors.state', '<>', 'removed');
  return query.execute();
}

/** One connector with its cursor, whatever its state, or undefined. */
export async function findConnectorStatus(db: Kysely<Database>, id: string): Promise<ConnectorStatusRow | undefined> {
  return selectStatus(db).where('connectors.id', '=', id).executeTakeFirst();
}
