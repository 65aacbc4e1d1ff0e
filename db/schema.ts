import type { ColumnType, Generated } from 'kysely';

/** A timestamptz column: read as a Date, written as a Date or an ISO string. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** A bigint column: node-postgres reads int8 as a string to keep precision. */
type BigInt = ColumnType<string, number | string | bigint, number | string | bigint>;

/** Current state of one dossier: one row per (province_code, dossier_code), partitioned by province. */
export interface DossiersTable {
  province_code: string;
  dossier_code: string;
  alt_dossier_code: string | null;
  source_province_code: string;
  source_code_set: string;
  procedure_code: string | null;
  sector_code: string | null;
  agency_code: string | null;
  channel: number | null;
  applicant_type: number | null;
  status: number;
  source_status: string;
  submitted_at: Timestamp | null;
  received_at: Timestamp | null;
  due_at: Timestamp | null;
  finished_at: Timestamp | null;
  returned_at: Timestamp | null;
  rejected_at: Timestamp | null;
  source_updated_at: Timestamp;
  source_version: BigInt;
  /** Hash of the canonical state: tells an exact repeat from a different state at the same version. */
  content_hash: string;
  observed_at: Timestamp;
  connector_id: string;
  synced_at: ColumnType<Date, Date | string | undefined, Date | string>;
  /** How many states the central row has held, 1 when inserted: tells the writer an insert from an update. */
  revision: ColumnType<number, number | undefined, number>;
  /**
   * The dossier's summary hash (summary-hash.ts's entryHash as a signed bigint), computed by Postgres from the row
   * (a generated column, migration 0019): never written.
   */
  summary_digest: ColumnType<string, never, never>;
}

/** The status history: one row per distinct state of a dossier, append-only. */
export interface DossierEventsTable {
  province_code: string;
  dossier_code: string;
  source_version: BigInt;
  content_hash: string;
  status: number;
  source_status: string;
  due_at: Timestamp | null;
  finished_at: Timestamp | null;
  source_updated_at: Timestamp;
  observed_at: Timestamp;
  connector_id: string;
  recorded_at: ColumnType<Date, Date | string | undefined, never>;
}

/** A registered province system. */
export interface ConnectorsTable {
  id: string;
  province_code: string;
  code_set: string;
  kind: string;
  /** The plugin's configuration (secrets only as references). */
  config: ColumnType<unknown, string, string>;
  poll_interval_ms: number;
  state: 'active' | 'paused' | 'removed';
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  last_success_at: Timestamp | null;
  last_error_at: Timestamp | null;
  last_error: string | null;
  /** The circuit breaker state a poller last reported, and when it changed. */
  breaker_state: 'closed' | 'half_open' | 'open' | null;
  breaker_changed_at: Timestamp | null;
  /** One line on what system this is, from the definition. */
  description: ColumnType<string | null, string | null | undefined, string | null>;
  /**
   * The validated definition as submitted (JSON; secrets only as references); null for a connector registered without
   * one.
   */
  definition: ColumnType<unknown, string | null | undefined, string | null>;
}

/** The committed position of a connector in its source; moves only with the records it covers. */
export interface SyncCursorsTable {
  connector_id: string;
  position: ColumnType<unknown, string, string>;
  records_committed: ColumnType<string, number | undefined, number>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** A record or request that could not be accepted, kept with its reason and raw payload (personal data redacted). */
export interface DeadLettersTable {
  id: Generated<string>;
  connector_id: string;
  province_code: string | null;
  dossier_code: string | null;
  reason: string;
  message: string;
  /** Hash of reason and payload: the same bad record is kept once. */
  fingerprint: string;
  /** JSON text: jsonb refuses some strings (\u0000) a vendor may send, and the payload must be kept as received. */
  raw_payload: string;
  received_at: Timestamp;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  state: ColumnType<
    'new' | 'replayed' | 'discarded',
    'new' | 'replayed' | 'discarded' | undefined,
    'new' | 'replayed' | 'discarded'
  >;
}

/** A key of the admin and read APIs: only its SHA-256 hash is stored. */
export interface ApiKeysTable {
  id: ColumnType<string, never, never>;
  name: string;
  scope: 'admin' | 'portal:read';
  /** The current (2025) province codes the key is bound to; null: a national key. */
  provinces: string[] | null;
  key_hash: Buffer;
  /** Hex of the hash's first 8 bytes: finds the candidate row. */
  hash_prefix: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
}

/** A connector's webhook secret, encrypted (AES-256-GCM under a key of SECRETS_KEYS); never stored in the clear. */
export interface WebhookSecretsTable {
  id: ColumnType<string, never, never>;
  connector_id: string;
  /** `dsk2`, key id (8 bytes), nonce (12 bytes), tag (16 bytes), ciphertext; first form: no mark nor key id. */
  sealed: Buffer;
  /** Hex id of the key it is sealed with, derived from `sealed`; null for the first form. */
  key_id: ColumnType<string | null, never, never>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  /** null: the current secret; otherwise accepted until then (a rotation's grace period). */
  expires_at: Timestamp | null;
}

/** An ingest batch the writer gave up on, moved out of Redis; kept, marked, after a retry or a discard. */
export interface FailedBatchesTable {
  id: ColumnType<string, never, never>;
  /** The current province whose queue the batch was in. */
  province_code: string;
  connector_id: string;
  origin: 'poll' | 'push';
  /** The batch as queued, as JSON text (its dead letters may carry text jsonb refuses). */
  batch: string;
  records: number;
  dead_letters: number;
  /** The writer's last error: never a refused value. */
  error: string;
  /** Attempts of the last job that failed. */
  attempts: number;
  /** Jobs of this same batch that failed (a poll page read again run after run). */
  failures: ColumnType<number, number | undefined, number>;
  /** Hash of what the batch would store: the same batch failing again finds its row. */
  fingerprint: string;
  /** The queue job last moved here: a job moved twice counts once. */
  last_job: string;
  first_failed_at: ColumnType<Date, Date | string | undefined, never>;
  failed_at: Timestamp;
  state: ColumnType<
    'failed' | 'retried' | 'discarded',
    'failed' | 'retried' | 'discarded' | undefined,
    'failed' | 'retried' | 'discarded'
  >;
  state_changed_at: Timestamp | null;
}

/** What a connector is doing: its current or last poll run, and the pushes committed for it. */
export interface ConnectorActivityTable {
  connector_id: string;
  run_id: string | null;
  run_started_at: Timestamp | null;
  run_last_page_at: Timestamp | null;
  run_ended_at: Timestamp | null;
  run_outcome: 'running' | 'caught_up' | 'continued' | 'failed' | 'interrupted' | null;
  run_pages: ColumnType<number, number | undefined, number>;
  run_records: ColumnType<number, number | undefined, number>;
  run_dead_letters: ColumnType<number, number | undefined, number>;
  push_last_received_at: Timestamp | null;
  push_last_committed_at: Timestamp | null;
  push_updates: ColumnType<string, number | string | undefined, number | string>;
}

/**
 * A date column (a Vietnam calendar day), written as `yyyy-MM-dd`; select it as `day::text`, since node-postgres would
 * read a date as a Date at the process's local midnight.
 */
type Day = ColumnType<string, string, string>;

/** A province's figures by Vietnam calendar day: received by day of receipt; finished, standings by day of finish. */
export interface ProvinceDailyStatsTable {
  province_code: string;
  day: Day;
  received: number;
  received_in_person: number;
  received_online: number;
  received_by_post: number;
  finished: number;
  early: number;
  on_time: number;
  late: number;
  /** The standings with the applicant's waiting time (statuses 5, 6) taken out. */
  net_early: number;
  net_on_time: number;
  net_late: number;
}

/** A province's dossiers by current status and channel (0: none given). */
export interface ProvinceStatusCountsTable {
  province_code: string;
  status: number;
  channel: number;
  count: number;
}

/** A province's dossiers in progress (2, 4, 5, 6) by due day. */
export interface ProvinceInProgressDueTable {
  province_code: string;
  due_day: Day;
  count: number;
}

/** Source update → central write lag of the history's states, by connector and day recorded, as a histogram. */
export interface ConnectorDailyLagTable {
  province_code: string;
  connector_id: string;
  day: Day;
  /** Counts per bucket of workers/read-model/lag-histogram.ts `lagBucketBounds`. */
  buckets: number[];
  count: number;
  sum_seconds: number;
  max_seconds: number;
}

/** Dead letters by connector, day created and reason. */
export interface ConnectorDailyDeadLettersTable {
  connector_id: string;
  day: Day;
  reason: string;
  count: number;
}

/** A dossier's time waiting on the applicant (statuses 5, 6) in its history. */
export interface DossierWaitingTimeTable {
  province_code: string;
  dossier_code: string;
  /** The waiting states that ended (an interval, as Postgres prints it). */
  waited: string;
  /** The start of the last state, when it is a waiting one. */
  waiting_since: Timestamp | null;
}

/** When each province's figures were last computed, and the change horizon they were computed to. */
export interface StatsRefreshTable {
  province_code: string;
  refreshed_at: Timestamp;
  checked_at: Timestamp;
  watermark: Timestamp;
  duration_ms: number;
  dossiers: number;
  rows: number;
}

/** One change made through the admin API or `fleet`: append-only (a trigger refuses UPDATE, DELETE, TRUNCATE). */
export interface AuditEventsTable {
  id: ColumnType<string, never, never>;
  at: ColumnType<Date, never, never>;
  actor_kind: 'api_key' | 'cli';
  /** The key's id, or the operating-system user of a `fleet` command. */
  actor_id: string;
  actor_name: string;
  /** What was done, e.g. `connector.update`, `dead_letter.replay` (workers/control-plane/audit.ts). */
  action: string;
  connector_id: string | null;
  /** The connector's current (2025) province code when the change was made. */
  province_code: string | null;
  /** The key a key change was about. */
  api_key_id: ColumnType<string | null, string | null | undefined, never>;
  /** sha256 (hex) of the canonical definition JSON before and after a definition change. */
  definition_hash_before: string | null;
  definition_hash_after: string | null;
  /** Counts and settings of the change; never a secret or personal data. */
  details: ColumnType<Record<string, unknown>, string, never>;
}

/** One backfill of a connector over a range of source update times, window by window (`fleet backfill`). */
export interface BackfillRunsTable {
  id: ColumnType<string, never, never>;
  connector_id: string;
  /** The connector's current (2025) province. */
  province_code: string;
  range_from: Timestamp;
  range_to: Timestamp;
  window_hours: number;
  windows_total: number;
  windows_done: ColumnType<number, number | undefined, number>;
  /** The read state inside window `windows_done`; null: its start. */
  position: ColumnType<unknown, string | null | undefined, string | null>;
  records: ColumnType<string, number | undefined, number>;
  dead_letters: ColumnType<string, number | undefined, number>;
  status: ColumnType<BackfillStatus, BackfillStatus | undefined, BackfillStatus>;
  started_by: string;
  started_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  finished_at: Timestamp | null;
  error: string | null;
}

/** A backfill run's state: reading, stopped by a failure (resumable), finished, or given up by an operator. */
export type BackfillStatus = 'running' | 'failed' | 'done' | 'cancelled';

/** What a province's system did that the status model does not expect (`status_transition_allowed`). */
export type AnomalyKind = 'unexpected_transition' | 'version_backwards' | 'disappeared';

/** One anomaly observed: codes, statuses and versions only, never personal data. */
export interface DossierAnomaliesTable {
  id: ColumnType<string, never, never>;
  province_code: string;
  dossier_code: string;
  connector_id: string;
  kind: AnomalyKind;
  from_status: number | null;
  to_status: number | null;
  stored_version: BigInt | null;
  source_version: BigInt | null;
  /** The reconcile run that found it; null when the writer saw it in a batch. */
  reconcile_run_id: BigInt | null;
  detected_at: ColumnType<Date, Date | string | undefined, never>;
}

/** One reconcile of a connector over a range of source update times, bucket by bucket (`fleet reconcile`). */
export interface ReconcileRunsTable {
  id: ColumnType<string, never, never>;
  connector_id: string;
  /** The connector's current (2025) province. */
  province_code: string;
  range_from: Timestamp;
  range_to: Timestamp;
  method: ReconcileMethod;
  buckets_total: number;
  buckets_done: ColumnType<number, number | undefined, number>;
  buckets_differing: ColumnType<number, number | undefined, number>;
  scopes_compared: ColumnType<string, number | undefined, number>;
  requests_made: ColumnType<string, number | undefined, number>;
  records_fetched: ColumnType<string, number | undefined, number>;
  missing_here: ColumnType<string, number | undefined, number>;
  extra_here: ColumnType<string, number | undefined, number>;
  different_version: ColumnType<string, number | undefined, number>;
  different_state: ColumnType<string, number | undefined, number>;
  repaired: ColumnType<string, number | undefined, number>;
  /** Dossiers the source holds in the finished buckets (migration 0018): compared = this + extra_here. */
  source_dossiers: ColumnType<string, number | undefined, number>;
  status: ColumnType<ReconcileStatus, ReconcileStatus | undefined, ReconcileStatus>;
  started_by: string;
  started_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  finished_at: Timestamp | null;
  run_seconds: ColumnType<number, number | undefined, number>;
  error: string | null;
}

/** How a reconcile compares: the source's digests, its listings, or its pages (no summaries). */
export type ReconcileMethod = 'digest' | 'listing' | 'pages';

/** A reconcile run's state, as a backfill run's, and `requested` (over HTTP, waiting for a reconciler process). */
export type ReconcileStatus = 'requested' | 'running' | 'failed' | 'done' | 'cancelled';

/** A kind of mismatch between our copy and the source. */
export type MismatchKind = 'missing_here' | 'extra_here' | 'different_version' | 'different_state';

/** One dossier a reconcile run found different. */
export interface ReconcileMismatchesTable {
  run_id: string;
  province_code: string;
  dossier_code: string;
  kind: MismatchKind;
  stored_version: string | number | null;
  stored_status: number | null;
  source_version: string | number | null;
  source_status: number | null;
  repairable: boolean;
  provisional: ColumnType<boolean, boolean | undefined, boolean>;
  repaired: ColumnType<boolean, boolean | undefined, boolean>;
}

export interface Database {
  dossiers: DossiersTable;
  dossier_events: DossierEventsTable;
  connectors: ConnectorsTable;
  sync_cursors: SyncCursorsTable;
  dead_letters: DeadLettersTable;
  api_keys: ApiKeysTable;
  webhook_secrets: WebhookSecretsTable;
  failed_batches: FailedBatchesTable;
  connector_activity: ConnectorActivityTable;
  province_daily_stats: ProvinceDailyStatsTable;
  province_status_counts: ProvinceStatusCountsTable;
  province_in_progress_due: ProvinceInProgressDueTable;
  connector_daily_lag: ConnectorDailyLagTable;
  connector_daily_dead_letters: ConnectorDailyDeadLettersTable;
  dossier_waiting_time: DossierWaitingTimeTable;
  stats_refresh: StatsRefreshTable;
  audit_events: AuditEventsTable;
  backfill_runs: BackfillRunsTable;
  dossier_anomalies: DossierAnomaliesTable;
  reconcile_runs: ReconcileRunsTable;
  reconcile_mismatches: ReconcileMismatchesTable;
}
