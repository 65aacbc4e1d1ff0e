import { sql, type Kysely, type Selectable } from 'kysely';
import type { ConnectorActivityTable, Database } from '../schema.js';

/** What a connector is doing, as stored: its current or last poll run, and the pushes committed for it. */
export type ConnectorActivityRow = Selectable<ConnectorActivityTable>;

/** How a poll run stands: `running` until it ends. */
export type PollRunOutcome = NonNullable<ConnectorActivityRow['run_outcome']>;

/** A poll run as its poller last saw it. Times are the poller's clock, so its rate is read from one clock. */
export interface PollRunSnapshot {
  connectorId: string;
  /** Tells this run from the connector's next one, which may be written by another poller. */
  runId: string;
  startedAt: Date;
  /** When the last page was handed to the writer; null before the first. */
  lastPageAt: Date | null;
  endedAt: Date | null;
  outcome: PollRunOutcome;
  pages: number;
  records: number;
  deadLetters: number;
}

/** Pushed updates one writer committed for a connector since it last told. */
export interface PushTally {
  connectorId: string;
  /** Records and dead letters. */
  updates: number;
  /** When the gateway received the newest of them (ISO instant). */
  lastReceivedAt: string;
}

/**
 * Stores poll runs as their pollers last saw them, in one statement. A run never overwrites a run of the same
 * connector that started after it (a late write of an earlier run, another poller's).
 */
export async function recordPollRuns(db: Kysely<Database>, runs: readonly PollRunSnapshot[]): Promise<void> {
  if (runs.length === 0) return;
  const rows = runs.map((run) => ({
    connector_id: run.connectorId,
    run_id: run.runId,
    run_started_at: run.startedAt.toISOString(),
    run_last_page_at: run.lastPageAt?.toISOString() ?? null,
    run_ended_at: run.endedAt?.toISOString() ?? null,
    run_outcome: run.outcome,
    run_pages: run.pages,
    run_records: run.records,
    run_dead_letters: run.deadLetters,
  }));
  await sql`
    INSERT INTO connector_activity AS a (connector_id, run_id, run_started_at, run_last_page_at, run_ended_at, run_outcome, run_pages, run_records, run_dead_letters)
    SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(
      connector_id text, run_id text, run_started_at timestamptz, run_last_page_at timestamptz, run_ended_at timestamptz,
      run_outcome text, run_pages integer, run_records integer, run_dead_letters integer)
    ON CONFLICT (connector_id) DO UPDATE SET
      run_id = excluded.run_id, run_started_at = excluded.run_started_at, run_last_page_at = excluded.run_last_page_at,
      run_ended_at = excluded.run_ended_at, run_outcome = excluded.run_outcome, run_pages = excluded.run_pages,
      run_records = excluded.run_records, run_dead_letters = excluded.run_dead_letters
    WHERE a.run_started_at IS NULL OR a.run_id = excluded.run_id OR a.run_started_at < excluded.run_started_at`.execute(
    db,
  );
}

/** Adds pushed updates committed to their connectors' counts, in one statement. */
export async function recordPushes(db: Kysely<Database>, tallies: readonly PushTally[]): Promise<void> {
  if (tallies.length === 0) return;
  const rows = tallies.map((tally) => ({
    connector_id: tally.connectorId,
    push_updates: tally.updates,
    push_last_received_at: tally.lastReceivedAt,
  }));
  await sql`
    INSERT INTO connector_activity AS a (connector_id, push_updates, push_last_received_at, push_last_committed_at)
    SELECT r.connector_id, r.push_updates, r.push_last_received_at, now()
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(connector_id text, push_updates bigint, push_last_received_at timestamptz)
    ON CONFLICT (connector_id) DO UPDATE SET
      push_updates = a.push_updates + excluded.push_updates,
      push_last_received_at = GREATEST(a.push_last_received_at, excluded.push_last_received_at),
      push_last_committed_at = excluded.push_last_committed_at`.execute(db);
}

/** A connector's activity, or undefined when no run or push was recorded for it. */
export async function findConnectorActivity(
  db: Kysely<Database>,
  connectorId: string,
): Promise<ConnectorActivityRow | undefined> {
  return db.selectFrom('connector_activity').selectAll().where('connector_id', '=', connectorId).executeTakeFirst();
}
