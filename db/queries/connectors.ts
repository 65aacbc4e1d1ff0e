import { sql, type Kysely, type Selectable } from 'kysely';
import type { CodeSet } from '../../config/provinces.js';
import type { ConnectorsTable, Database } from '../schema.js';

/** A registered connector as the workers use it. */
export type ConnectorRow = Selectable<ConnectorsTable>;

/** What registering a connector takes. */
export interface ConnectorRegistration {
  id: string;
  provinceCode: string;
  codeSet: CodeSet;
  kind: string;
  config: unknown;
  pollIntervalMs: number;
}

/** Registers a connector, or updates its settings when the id exists (its cursor and state are kept). */
export async function saveConnector(db: Kysely<Database>, connector: ConnectorRegistration): Promise<void> {
  await db
    .insertInto('connectors')
    .values({
      id: connector.id,
      province_code: connector.provinceCode,
      code_set: connector.codeSet,
      kind: connector.kind,
      config: JSON.stringify(connector.config),
      poll_interval_ms: connector.pollIntervalMs,
      state: 'active',
    })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({
        province_code: connector.provinceCode,
        code_set: connector.codeSet,
        kind: connector.kind,
        config: JSON.stringify(connector.config),
        poll_interval_ms: connector.pollIntervalMs,
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
  await db.updateTable('connectors').set({ last_success_at: sql<Date>`now()` }).where('id', '=', id).execute();
}

/** Records why a poll run failed; the message is the one logged (no secrets, no personal data). */
export async function markConnectorError(db: Kysely<Database>, id: string, message: string): Promise<void> {
  await db
    .updateTable('connectors')
    .set({ last_error: message.slice(0, 1000), last_error_at: sql<Date>`now()` })
    .where('id', '=', id)
    .execute();
}
